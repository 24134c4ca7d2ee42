//! The supervisor's decoder of worker reports, fed any bytes cut anywhere:
//! it must never panic, never hold more than a frame, decode a stream the
//! same however it is cut, and every message it yields must encode to a
//! frame that it reads back.

#![no_main]

use fastevent::worker::report::{MAX_FRAME, ReportDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte is where the stream is cut, as a pipe cuts it.
    let Some((&step, stream)) = data.split_first() else {
        return;
    };
    let mut whole = ReportDecoder::new();
    let at_once = whole.push(stream);
    let mut pieces = ReportDecoder::new();
    let mut cut = Vec::new();
    for chunk in stream.chunks(usize::from(step).max(1)) {
        cut.extend(pieces.push(chunk));
        assert!(pieces.buffered() <= MAX_FRAME);
    }
    assert_eq!(at_once, cut);
    assert_eq!(whole.finish(), pieces.finish());
    for message in at_once.into_iter().flatten() {
        let frame = message.to_frame();
        assert!(frame.len() <= MAX_FRAME + 1, "{} bytes", frame.len());
        let again = ReportDecoder::new().push(&frame);
        assert!(matches!(again.as_slice(), [Ok(_)]), "{again:?}");
    }
});
