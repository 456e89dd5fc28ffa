//! User Data Header parsing: the concatenation information of a multipart SMS.
//!
//! Both the 8-bit (IEI 0x00) and 16-bit (IEI 0x08) reference forms are read.
//! A UDH that is malformed is reported, so the part is not silently joined to
//! the wrong message.

use crate::inbound::Segment;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UdhError {
    #[error("UDH length byte {declared} does not match {actual} bytes")]
    Length { declared: usize, actual: usize },
    #[error("concatenation element with total {total} and sequence {seq}")]
    BadSequence { total: u8, seq: u8 },
}

/// Find the concatenation element in a UDH (including its length byte).
/// `Ok(None)` for a UDH without one (port addressing, etc.) or an empty UDH.
pub fn parse(udh: &[u8]) -> Result<Option<Segment>, UdhError> {
    let Some((&udhl, rest)) = udh.split_first() else {
        return Ok(None);
    };
    let udhl = udhl as usize;
    if rest.len() < udhl {
        return Err(UdhError::Length {
            declared: udhl,
            actual: rest.len(),
        });
    }
    let mut ies = &rest[..udhl];
    while ies.len() >= 2 {
        let (iei, len) = (ies[0], ies[1] as usize);
        let Some(data) = ies.get(2..2 + len) else {
            return Err(UdhError::Length {
                declared: len,
                actual: ies.len() - 2,
            });
        };
        let seg = match (iei, len) {
            (0x00, 3) => Some((data[0] as u16, data[1], data[2])),
            (0x08, 4) => Some((u16::from_be_bytes([data[0], data[1]]), data[2], data[3])),
            _ => None,
        };
        if let Some((reference, total, seq)) = seg {
            if total == 0 || seq == 0 || seq > total {
                return Err(UdhError::BadSequence { total, seq });
            }
            return Ok(Some(Segment { reference, total, seq }));
        }
        ies = &ies[2 + len..];
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_and_sixteen_bit() {
        assert_eq!(
            parse(&[0x05, 0x00, 0x03, 0x2A, 0x03, 0x02]).unwrap(),
            Some(Segment {
                reference: 0x2A,
                total: 3,
                seq: 2
            })
        );
        assert_eq!(
            parse(&[0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01]).unwrap(),
            Some(Segment {
                reference: 0x1234,
                total: 2,
                seq: 1
            })
        );
        // Port addressing first, then concatenation.
        assert_eq!(
            parse(&[0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x07, 0x02, 0x02]).unwrap(),
            Some(Segment {
                reference: 7,
                total: 2,
                seq: 2
            })
        );
        assert_eq!(parse(&[]).unwrap(), None);
    }

    #[test]
    fn malformed() {
        assert!(parse(&[0x05, 0x00, 0x03]).is_err());
        assert!(parse(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x03]).is_err());
        assert!(parse(&[0x05, 0x00, 0x03, 0x01, 0x00, 0x00]).is_err());
        assert!(parse(&[0x03, 0x00, 0x09, 0x01]).is_err());
    }
}
