//! `testbeds`: network-side servers (SM-DP+ and the flow servers). Not built yet: see issue 3.
