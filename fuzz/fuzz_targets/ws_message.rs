//! Every client → server WebSocket message parse path: byte 0 chooses text (even) or binary
//! (odd), the rest is the message. Whatever the bytes, parsing returns a value or an error
//! with a close code of docs/protocol.md; it never panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use skerry_streamer::proto::{ClientMessage, MAX_TEXT_MESSAGE};
use skerry_streamer::server::fuzzing::{Parsed, client_message};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, msg)) = data.split_first() else {
        return;
    };
    let text = mode % 2 == 0;
    match client_message(text, msg) {
        Ok(Parsed::Message(m)) => {
            assert!(
                !text || msg.len() <= MAX_TEXT_MESSAGE,
                "an oversized text was accepted"
            );
            if let ClientMessage::Text { text } = &m {
                assert!(text.len() <= skerry_streamer::proto::MAX_TEXT_FIELD);
            }
        }
        Ok(Parsed::Microphone(n)) => assert!(!text && n == msg.len()),
        Ok(Parsed::Nothing) => {}
        Err(e) => {
            let code = e.close_code();
            assert!(
                [1003, 1008, 1009, 4001].contains(&code),
                "close code {code}"
            );
            assert!(e.close_reason().len() <= 123, "close reason too long");
        }
    }
});
