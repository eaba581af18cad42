//! Command-line assembly, byte by byte (ITU-T V.250 §5.2.1–5.2.4).
//!
//! The assembler skips everything until an `A`/`a`; `A/` repeats the previous command line at
//! once (§5.2.4); after `AT` (any case) it collects characters until the terminator S3 (default
//! CR) — a LF is accepted as a terminator too, since ModemManager and lpac end their lines with
//! CR LF and some clients send LF alone. The LF of a CR LF pair and empty lines fall into the
//! "skip until `A`" state and are ignored. S5 (default backspace) deletes the previous character
//! but never the `AT`. Other control characters are dropped (§5.2.2). A line longer than the
//! limit is remembered as overflowed and reported once its terminator arrives; nothing of it is
//! executed.
//!
//! Echo is the port's business ([`super::port`]): it echoes every byte as received.

/// What a byte completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEvent {
    /// A complete command line: the characters after `AT`, without the terminator, with
    /// control characters and backspaced characters removed.
    Line(Vec<u8>),
    /// `A/`: execute the previous command line again.
    Repeat,
    /// A line longer than the limit was terminated; answer `ERROR`, execute nothing.
    Overflow,
}

/// Where the assembler is within a line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Between lines: skipping until `A`/`a`.
    Idle,
    /// Seen `A`/`a`; waiting for `T`/`t` (a line) or `/` (repeat).
    GotA,
    /// After `AT`: collecting the body until the terminator.
    Body { buf: Vec<u8>, overflow: bool },
}

/// The byte-level line assembler of one port.
#[derive(Debug, Clone)]
pub struct Assembler {
    state: State,
    max_line: usize,
}

/// Line feed, accepted as a terminator besides S3 (V.250 only has S3; real clients send CR LF
/// or LF).
const LF: u8 = 0x0A;

impl Assembler {
    /// An assembler accepting at most `max_line` characters after `AT`.
    pub fn new(max_line: usize) -> Assembler {
        Assembler {
            state: State::Idle,
            max_line,
        }
    }

    /// No partial line: nothing since the last terminator except bytes that are skipped.
    pub fn is_idle(&self) -> bool {
        self.state == State::Idle
    }

    /// Drops any partial line (the client closed the port).
    pub fn reset(&mut self) {
        self.state = State::Idle;
    }

    /// Takes one byte; `s3` is the terminator and `s5` the backspace character in force.
    pub fn push(&mut self, b: u8, s3: u8, s5: u8) -> Option<LineEvent> {
        match &mut self.state {
            State::Idle => {
                if b.eq_ignore_ascii_case(&b'A') {
                    self.state = State::GotA;
                }
                None
            }
            State::GotA => {
                if b.eq_ignore_ascii_case(&b'T') {
                    self.state = State::Body {
                        buf: Vec::new(),
                        overflow: false,
                    };
                    None
                } else if b == b'/' {
                    self.state = State::Idle;
                    Some(LineEvent::Repeat)
                } else if b.eq_ignore_ascii_case(&b'A') {
                    // "AAT": the second A may start the line.
                    None
                } else {
                    // A backspace deletes the "A"; anything else is not a command line either.
                    self.state = State::Idle;
                    None
                }
            }
            State::Body { buf, overflow } => {
                if b == s3 || b == LF {
                    let ev = if *overflow {
                        LineEvent::Overflow
                    } else {
                        LineEvent::Line(std::mem::take(buf))
                    };
                    self.state = State::Idle;
                    Some(ev)
                } else if b == s5 {
                    // V.250 §5.2.2: delete the previous character, but not the "AT" prefix.
                    buf.pop();
                    None
                } else if b < 0x20 || b == 0x7F {
                    // V.250 §5.2.2: other control characters are ignored.
                    None
                } else if buf.len() >= self.max_line {
                    *overflow = true;
                    None
                } else {
                    buf.push(b);
                    None
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run(asm: &mut Assembler, bytes: &[u8]) -> Vec<LineEvent> {
        bytes.iter().filter_map(|&b| asm.push(b, 13, 8)).collect()
    }

    fn line(s: &str) -> LineEvent {
        LineEvent::Line(s.as_bytes().to_vec())
    }

    #[test]
    fn assembles_cr_terminated_line() {
        let mut a = Assembler::new(100);
        assert_eq!(run(&mut a, b"AT+CGMI\r"), vec![line("+CGMI")]);
        assert!(a.is_idle());
    }

    #[test]
    fn accepts_lf_only_and_crlf_terminators() {
        let mut a = Assembler::new(100);
        assert_eq!(
            run(&mut a, b"ATE0\r\nAT+CGSN\n\r\n\nat\r"),
            vec![line("E0"), line("+CGSN"), line("")]
        );
    }

    #[test]
    fn skips_garbage_before_at() {
        let mut a = Assembler::new(100);
        assert_eq!(run(&mut a, b"xyz\x00\xffT\rAAT1\r"), vec![line("1")]);
    }

    #[test]
    fn accepts_lower_and_mixed_case_prefix() {
        let mut a = Assembler::new(100);
        assert_eq!(
            run(&mut a, b"at+cgmi\raT1\r"),
            vec![line("+cgmi"), line("1")]
        );
    }

    #[test]
    fn a_slash_repeats_without_terminator() {
        let mut a = Assembler::new(100);
        assert_eq!(run(&mut a, b"A/"), vec![LineEvent::Repeat]);
        assert_eq!(run(&mut a, b"a/"), vec![LineEvent::Repeat]);
        assert!(a.is_idle());
    }

    #[test]
    fn backspace_deletes_previous_char_but_not_at() {
        let mut a = Assembler::new(100);
        assert_eq!(run(&mut a, b"ATE1\x080\r"), vec![line("E0")]);
        assert_eq!(run(&mut a, b"ATX\x08\x08\x08\x08I\r"), vec![line("I")]);
    }

    #[test]
    fn backspace_after_a_abandons_the_line() {
        let mut a = Assembler::new(100);
        assert_eq!(run(&mut a, b"A\x08T\r"), vec![]);
        assert!(a.is_idle());
    }

    #[test]
    fn follows_changed_s3_and_s5() {
        let mut a = Assembler::new(100);
        let evs: Vec<_> = b"ATE0!AT1#2!"
            .iter()
            .filter_map(|&b| a.push(b, b'!', b'#'))
            .collect();
        assert_eq!(evs, vec![line("E0"), line("2")]);
    }

    #[test]
    fn drops_control_characters_inside_a_line() {
        let mut a = Assembler::new(100);
        assert_eq!(run(&mut a, b"AT+C\x00G\x1bMI\x7f\r"), vec![line("+CGMI")]);
    }

    #[test]
    fn rejects_overlong_line_when_terminated() {
        let mut a = Assembler::new(4);
        assert_eq!(run(&mut a, b"AT1234"), vec![]);
        assert!(!a.is_idle());
        assert_eq!(run(&mut a, b"5678\r"), vec![LineEvent::Overflow]);
        assert_eq!(run(&mut a, b"AT1234\r"), vec![line("1234")]);
    }

    #[test]
    fn partial_line_is_not_idle_until_reset() {
        let mut a = Assembler::new(100);
        run(&mut a, b"AT+CG");
        assert!(!a.is_idle());
        a.reset();
        assert!(a.is_idle());
        assert_eq!(run(&mut a, b"MI\r"), vec![]);
    }
}
