//! `[node]`: which gateway node this is in a cluster, and the tracking key
//! every node of the cluster shares (docs/scale-out.md).

use pintu_channels::Secret;
use serde::Deserialize;

use crate::section::ConfigError;

/// How many node ids exist: the top 4 bits of a 30-bit tracking-code number
/// (`tracking::NODE_BITS`; the layering keeps sections from importing it,
/// `node::tests` keeps the two equal).
pub const NODE_IDS: u32 = 16;

/// Bytes a configured tracking key must have at least (as `tracking.key`).
pub const MIN_KEY_BYTES: usize = 32;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This gateway's id in the cluster, `0..=15` (`PINTU_NODE__ID`); unique
    /// per running node, checked on the broker at start. 0, the default, is
    /// also what a single gateway is.
    #[serde(default)]
    pub id: u32,
    /// The key of the tracking-code permutation, hex (64 characters for 32
    /// bytes), the same on every node. Unset: the key in
    /// `data_dir/gateway/tracking.key`, made on first start — right for one
    /// node, and for node 0 of a cluster whose other nodes are given that
    /// file's key in hex. Required when `id` is not 0.
    #[serde(default)]
    pub tracking_key: Option<Secret>,
}

impl NodeConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id >= NODE_IDS {
            return Err(ConfigError::invalid(
                "node.id",
                format!(
                    "must be 0 to {}: the node id is the top 4 bits of a tracking code's number",
                    NODE_IDS - 1
                ),
            ));
        }
        match &self.tracking_key {
            Some(k) => {
                decode_key(k.expose()).map_err(|reason| ConfigError::invalid("node.tracking_key", reason))?;
            }
            None if self.id != 0 => {
                return Err(ConfigError::invalid(
                    "node.tracking_key",
                    "required when node.id is not 0: every node of a cluster must use the same key, \
                     or their codes collide (docs/scale-out.md)",
                ))
            }
            None => {}
        }
        Ok(())
    }

    /// The id as the code space uses it (validated: below 16).
    pub fn id(&self) -> u8 {
        (self.id % NODE_IDS) as u8
    }

    /// The configured key's bytes; `None` when unset (or invalid, which
    /// [`NodeConfig::validate`] refuses).
    pub fn tracking_key(&self) -> Option<Vec<u8>> {
        self.tracking_key.as_ref().and_then(|k| decode_key(k.expose()).ok())
    }
}

/// A hex key of at least [`MIN_KEY_BYTES`] bytes. The reason never quotes it.
fn decode_key(hex_text: &str) -> Result<Vec<u8>, String> {
    let key = hex::decode(hex_text.trim())
        .map_err(|_| "must be hex (e.g. `openssl rand -hex 32`), an even number of 0-9a-f".to_string())?;
    if key.len() < MIN_KEY_BYTES {
        return Err(format!(
            "is {} bytes, fewer than {MIN_KEY_BYTES} (64 hex characters)",
            key.len()
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u32, key: Option<&str>) -> NodeConfig {
        NodeConfig {
            id,
            tracking_key: key.map(Secret::new),
        }
    }

    #[test]
    fn ids_and_keys_are_validated_naming_the_key() {
        let key = "ab".repeat(32);
        assert!(node(0, None).validate().is_ok(), "a single node needs nothing");
        assert!(node(15, Some(&key)).validate().is_ok());
        assert_eq!(node(15, Some(&key)).id(), 15);
        assert_eq!(node(3, Some(&key)).tracking_key(), Some(vec![0xab; 32]));
        let err = node(16, Some(&key)).validate().unwrap_err().to_string();
        assert!(err.contains("node.id") && err.contains("0 to 15"), "{err}");
        let err = node(1, None).validate().unwrap_err().to_string();
        assert!(err.contains("node.tracking_key") && err.contains("required"), "{err}");
        let short = "ab".repeat(16);
        let err = node(1, Some(&short)).validate().unwrap_err().to_string();
        assert!(err.contains("16 bytes"), "{err}");
        assert!(!err.contains(&short));
        let not_hex = "zz".repeat(32);
        let err = node(0, Some(&not_hex)).validate().unwrap_err().to_string();
        assert!(err.contains("hex") && !err.contains(&not_hex), "{err}");
    }
}
