//! The V1 messages that matter to share checking.

use serde_json::Value;

use super::wire::{
    MAX_EXTRANONCE_BYTES, is_hex, number, params_array, parse_hex, parse_u32_be, str_param,
};
use crate::chain::Hash256;
use crate::chain::header::{prevhash_from_stratum, prevhash_to_stratum};
use crate::error::{Error, quote_input};

/// `mining.notify` params, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct Notify {
    /// Job id.
    pub job_id: String,
    /// Previous block hash, internal byte order (word swap undone).
    pub prevhash: Hash256,
    /// Coinbase part before the extranonces.
    pub coinb1: Vec<u8>,
    /// Coinbase part after the extranonces.
    pub coinb2: Vec<u8>,
    /// Merkle branch entries, internal order, used as sent.
    pub merkle_branch: Vec<[u8; 32]>,
    /// Block version.
    pub version: u32,
    /// Compact network target.
    pub nbits: u32,
    /// Job time.
    pub ntime: u32,
    /// Whether earlier jobs are now stale.
    pub clean_jobs: bool,
}

impl Notify {
    /// Decodes the params array (9 entries; extra trailing entries are ignored).
    pub fn from_params(params: &Value) -> Result<Notify, Error> {
        const W: &str = "mining.notify";
        let p = params_array(W, params)?;
        if p.len() < 9 {
            return Err(Error::Malformed {
                what: W,
                reason: format!("{} params, need 9", p.len()),
            });
        }
        let job_id = match &p[0] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(Error::Malformed { what: W, reason: "job id must be a string".into() });
            }
        };
        let branch_values = p[4].as_array().ok_or_else(|| Error::Malformed {
            what: W,
            reason: "merkle branch must be an array".into(),
        })?;
        let mut merkle_branch = Vec::with_capacity(branch_values.len());
        for b in branch_values {
            let s = b.as_str().ok_or_else(|| Error::Malformed {
                what: W,
                reason: "merkle branch entries must be strings".into(),
            })?;
            merkle_branch.push(Hash256::from_internal_hex(s)?.0);
        }
        let clean_jobs = match &p[8] {
            Value::Bool(b) => *b,
            // Some pools send 0/1.
            Value::Number(n) => n.as_u64().is_some_and(|v| v != 0),
            _ => {
                return Err(Error::Malformed {
                    what: W,
                    reason: "clean_jobs must be a bool".into(),
                });
            }
        };
        Ok(Notify {
            job_id,
            prevhash: prevhash_from_stratum(str_param(W, p, 1)?)?,
            coinb1: parse_hex("coinb1", str_param(W, p, 2)?)?,
            coinb2: parse_hex("coinb2", str_param(W, p, 3)?)?,
            merkle_branch,
            version: parse_u32_be("version", str_param(W, p, 5)?)?,
            nbits: parse_u32_be("nbits", str_param(W, p, 6)?)?,
            ntime: parse_u32_be("ntime", str_param(W, p, 7)?)?,
            clean_jobs,
        })
    }

    /// The params array as a pool sends it (the inverse of [`Notify::from_params`]).
    pub fn to_params(&self) -> Value {
        let branch: Vec<String> = self.merkle_branch.iter().map(hex::encode).collect();
        serde_json::json!([
            self.job_id,
            prevhash_to_stratum(&self.prevhash),
            hex::encode(&self.coinb1),
            hex::encode(&self.coinb2),
            branch,
            format!("{:08x}", self.version),
            format!("{:08x}", self.nbits),
            format!("{:08x}", self.ntime),
            self.clean_jobs
        ])
    }
}

/// `mining.set_difficulty` params: the new share difficulty (integer or float).
pub fn set_difficulty_from_params(params: &Value) -> Result<f64, Error> {
    const W: &str = "mining.set_difficulty";
    let p = params_array(W, params)?;
    let d = number(W, p.first().unwrap_or(&Value::Null))?;
    if !d.is_finite() || d <= 0.0 {
        return Err(Error::InvalidDifficulty(d));
    }
    Ok(d)
}

/// `mining.set_version_mask` params: the new version-rolling mask.
pub fn set_version_mask_from_params(params: &Value) -> Result<u32, Error> {
    const W: &str = "mining.set_version_mask";
    let p = params_array(W, params)?;
    parse_u32_be("version mask", str_param(W, p, 0)?)
}

/// `mining.set_extranonce` params.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetExtranonce {
    /// New extranonce1.
    pub extranonce1: Vec<u8>,
    /// New extranonce2 size in bytes.
    pub extranonce2_size: usize,
}

impl SetExtranonce {
    /// Decodes `[extranonce1, extranonce2_size]`; an extranonce1 longer than
    /// [`MAX_EXTRANONCE_BYTES`] is `Error::Malformed`.
    pub fn from_params(params: &Value) -> Result<Self, Error> {
        const W: &str = "mining.set_extranonce";
        let p = params_array(W, params)?;
        Ok(SetExtranonce {
            extranonce1: extranonce1(W, str_param(W, p, 0)?)?,
            extranonce2_size: extranonce2_size(W, p.get(1))?,
        })
    }
}

/// An extranonce1 of at most [`MAX_EXTRANONCE_BYTES`] bytes: the length is checked before
/// the hex is decoded, so a longer one costs nothing of its size to refuse.
fn extranonce1(what: &'static str, hex: &str) -> Result<Vec<u8>, Error> {
    if hex.len() > 2 * MAX_EXTRANONCE_BYTES {
        return Err(Error::Malformed {
            what,
            reason: format!(
                "extranonce1 is {} hex digits, longer than {MAX_EXTRANONCE_BYTES} bytes",
                hex.len()
            ),
        });
    }
    parse_hex("extranonce1", hex)
}

fn extranonce2_size(what: &'static str, v: Option<&Value>) -> Result<usize, Error> {
    v.and_then(Value::as_u64)
        .filter(|&n| (1..=MAX_EXTRANONCE_BYTES as u64).contains(&n))
        .map(|n| n as usize)
        .ok_or_else(|| Error::Malformed {
            what,
            reason: format!("extranonce2 size must be 1..={MAX_EXTRANONCE_BYTES}"),
        })
}

/// The result of `mining.subscribe`: `[subscriptions, extranonce1, extranonce2_size]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscribeResult {
    /// The connection's extranonce1.
    pub extranonce1: Vec<u8>,
    /// Bytes of extranonce2 the miner rolls.
    pub extranonce2_size: usize,
}

impl SubscribeResult {
    /// Decodes the result value; an extranonce1 longer than [`MAX_EXTRANONCE_BYTES`] is
    /// `Error::Malformed`.
    pub fn from_result(result: &Value) -> Result<Self, Error> {
        const W: &str = "mining.subscribe result";
        let p = params_array(W, result)?;
        Ok(SubscribeResult {
            extranonce1: extranonce1(W, str_param(W, p, 1)?)?,
            extranonce2_size: extranonce2_size(W, p.get(2))?,
        })
    }
}

/// The result of `mining.configure` for version rolling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigureResult {
    /// The negotiated mask, or `None` if version rolling was refused or not asked for.
    pub version_mask: Option<u32>,
}

impl ConfigureResult {
    /// Decodes `{"version-rolling": bool, "version-rolling.mask": "hex"}`; other
    /// extensions are ignored.
    pub fn from_result(result: &Value) -> Result<Self, Error> {
        const W: &str = "mining.configure result";
        let obj = result.as_object().ok_or_else(|| Error::Malformed {
            what: W,
            reason: "result must be an object".into(),
        })?;
        let enabled = obj.get("version-rolling").and_then(Value::as_bool).unwrap_or(false);
        if !enabled {
            return Ok(ConfigureResult { version_mask: None });
        }
        let mask = obj.get("version-rolling.mask").and_then(Value::as_str).ok_or_else(|| {
            Error::Malformed { what: W, reason: "version-rolling.mask missing".into() }
        })?;
        Ok(ConfigureResult { version_mask: Some(parse_u32_be("version-rolling.mask", mask)?) })
    }
}

/// The first of a submit's hex fields that is not hex, as a typed error with a short
/// message (see [`quote_input`]).
fn check_hex_fields(
    extranonce2: &str,
    ntime: &str,
    nonce: &str,
    version_bits: Option<&str>,
) -> Result<(), Error> {
    let fields = [
        ("extranonce2", Some(extranonce2)),
        ("ntime", Some(ntime)),
        ("nonce", Some(nonce)),
        ("version bits", version_bits),
    ];
    for (what, value) in fields {
        if let Some(v) = value
            && !is_hex(v)
        {
            return Err(Error::InvalidHex { what, reason: quote_input(v) });
        }
    }
    Ok(())
}

/// `mining.submit` params as sent, before any validation beyond shape: the check decides
/// what each field means (sizes, windows), so the raw strings are kept.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Submit {
    /// Worker name.
    pub worker: String,
    /// Job id.
    pub job_id: String,
    /// Extranonce2, hex.
    pub extranonce2: String,
    /// ntime, 8 hex digits (big-endian u32).
    pub ntime: String,
    /// Nonce, 8 hex digits (big-endian u32).
    pub nonce: String,
    /// BIP 310 version bits, 8 hex digits, if sent.
    pub version_bits: Option<String>,
}

impl Submit {
    /// Decodes 5 or 6 string params. Any other shape, or a field that is not hex, is a
    /// typed error the check reports as `malformed`.
    pub fn from_params(params: &Value) -> Result<Submit, Error> {
        const W: &str = "mining.submit";
        let p = params_array(W, params)?;
        if p.len() != 5 && p.len() != 6 {
            return Err(Error::Malformed {
                what: W,
                reason: format!("{} params, need 5 or 6", p.len()),
            });
        }
        let job_id = &p[1];
        if !matches!(job_id, Value::String(_) | Value::Number(_)) {
            return Err(Error::Malformed { what: W, reason: "job id must be a string".into() });
        }
        let worker = str_param(W, p, 0)?;
        let extranonce2 = str_param(W, p, 2)?;
        let ntime = str_param(W, p, 3)?;
        let nonce = str_param(W, p, 4)?;
        let version_bits = if p.len() == 6 { Some(str_param(W, p, 5)?) } else { None };
        // Checked before anything is copied: refusing a field costs nothing of its size.
        check_hex_fields(extranonce2, ntime, nonce, version_bits)?;
        Ok(Submit {
            worker: worker.to_string(),
            job_id: match job_id {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            extranonce2: extranonce2.to_string(),
            ntime: ntime.to_string(),
            nonce: nonce.to_string(),
            version_bits: version_bits.map(str::to_string),
        })
    }

    /// Every hex field is hex (digits only, even count).
    pub fn check_hex(&self) -> Result<(), Error> {
        check_hex_fields(&self.extranonce2, &self.ntime, &self.nonce, self.version_bits.as_deref())
    }

    /// Best-effort worker and job id of params that did not parse, for reporting.
    pub fn identify(params: &Value) -> (Option<String>, Option<String>) {
        let text = |i: usize| {
            params.as_array().and_then(|p| p.get(i)).and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
        };
        (text(0), text(1))
    }
}

#[cfg(test)]
mod tests {
    use super::set_difficulty_from_params;

    #[test]
    fn a_pools_difficulty_is_read_to_the_exact_double() {
        // 2^-24 as the shortest round-trip text: a parser that is not correctly rounded
        // reads 5.960464477539064e-8, one ulp harder, and a share exactly at the pool's
        // target would be refused.
        let params: serde_json::Value = serde_json::from_str("[5.960464477539063e-8]").unwrap();
        assert_eq!(set_difficulty_from_params(&params).unwrap(), (-24f64).exp2());
        let params: serde_json::Value = serde_json::from_str("[0.0009765625]").unwrap();
        assert_eq!(set_difficulty_from_params(&params).unwrap(), (-10f64).exp2());
    }
}
