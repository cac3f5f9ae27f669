//! How a stratum proxy embeds `sharecheck`: jobs in from the pool, submits in from
//! miners, verdicts out, and the stratum replies the proxy sends back.
//!
//!     cargo run --release --example proxy_embedding
//!
//! The messages are the real public-pool recording (testnet3, a Bitaxe with BIP 310
//! version rolling) from `examples/sessions/public-pool-bitaxe-sha256d.jsonl`.

use serde_json::{Value, json};
use sharecheck::Algorithm;
use sharecheck::stratum::messages::set_difficulty_from_params;
use sharecheck::stratum::{ConfigureResult, Notify, SubscribeResult};
use sharecheck::validate::{Outcome, Validator, ValidatorConfig};

fn main() -> Result<(), sharecheck::Error> {
    // One validator per upstream pool connection, shared by every miner thread.
    let validator = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());

    // One session per miner connection, fed the pool's answers as the proxy relays them.
    let mut miner = validator.new_session();
    let subscribed = json!([[["mining.notify", "57a6f098"]], "57a6f098", 4]);
    let s = SubscribeResult::from_result(&subscribed)?;
    miner.set_extranonce(s.extranonce1, s.extranonce2_size)?;
    let configured = json!({"version-rolling": true, "version-rolling.mask": "1fffe000"});
    miner.set_version_mask(ConfigureResult::from_result(&configured)?.version_mask);
    validator.set_difficulty(&mut miner, set_difficulty_from_params(&json!([512]))?)?;

    // The pool's job.
    let notify: Value = serde_json::from_str(
        r#"["1", "171592f223740e92d223f6e68bff25279af7ac4f2246451e0000000200000000",
        "02000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1903c943255c7075626c69632d706f6f6c5c",
        "ffffffff037a90000000000000160014e6f22ca44dc800e9d049621a3b9a42c509f1c4bc3b0f250000000000160014e6f22ca44dc800e9d049621a3b9a42c509f1c4bc0000000000000000266a24aa21a9edbd3d1d916aa0b57326a2d88ebe1b68a1d7c48585f26d8335fe6a94b62755f64c00000000",
        ["175335649d5e8746982969ec88f52e85ac9917106fba5468e699c8879ab974a1",
         "d5644ab3e708c54cd68dc5aedc92b8d3037449687f92ec41ed6e37673d969d4a",
         "5c9ec187517edc0698556cca5ce27e54c96acb014770599ed9df4d4937fbf2b0"],
        "20000000", "192495f8", "64b3f3ec", false]"#,
    )
    .expect("literal JSON");
    validator.notify(Notify::from_params(&notify)?)?;

    // Submits from the miner: the recorded share, the same share again, and one with
    // version bits outside the negotiated mask.
    let worker = "tb1qumezefzdeqqwn5zfvgdrhxjzc5ylr39uhuxcz4.bitaxe3";
    let submits = [
        (5, json!([worker, "1", "c7080000", "64b3f3ec", "ed460d91", "00002000"])),
        (6, json!([worker, "1", "C7080000", "64B3F3EC", "ED460D91", "00002000"])),
        (7, json!([worker, "1", "c7080001", "64b3f3ec", "ed460d91", "e0000000"])),
    ];
    for (id, params) in submits {
        let verdict = validator.check_params(&miner, &params);
        match verdict.outcome {
            Outcome::Block => println!("id {id}: BLOCK — submit upstream at once"),
            Outcome::Accepted => println!("id {id}: valid share — forward to the pool"),
            Outcome::Rejected(reason) => {
                println!("id {id}: rejected ({reason}) — answer the miner")
            }
        }
        if let Some(hash) = verdict.pow_hash {
            println!("    hash {hash}, share difficulty {:.1}", verdict.share_difficulty.unwrap());
        }
        // Invalid shares are answered here; valid ones get the pool's answer.
        if !verdict.is_valid() {
            println!("    reply: {}", verdict.stratum_reply(&json!(id)));
        }
    }
    Ok(())
}
