//! Public-ledger transactions (`accord-ledger`): any bytes read to a transaction or to an error
//! naming where they go wrong, never a panic; a transaction that reads writes back to the same
//! bytes.
#![no_main]

use accord_ledger::Transaction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Transaction::from_bytes(data) {
        Ok(tx) => {
            assert_eq!(tx.to_bytes().expect("a read transaction writes"), data);
            let _ = tx.verify_sender();
        }
        Err(e) => assert!(e.at <= data.len(), "{e}"),
    }
});
