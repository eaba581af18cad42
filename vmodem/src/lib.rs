//! `vmodem`: the virtual cellular modem (AT commands on PTYs). Not built yet: see issue 4.
