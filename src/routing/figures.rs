//! Numbers in reasons, written without the formatter's exact-decimal
//! machinery: a decision writes a dozen probabilities and weights, and
//! `format!("{:.2}")` of an `f32` was a sixth of the router's time.
//!
//! [`push_fixed`] writes exactly what `{:.N}` writes (checked against it in
//! the tests below): the product of an `f32` and a power of ten up to 10^3 is
//! exact in an `f64` (24 + 10 bits of mantissa), so rounding that product
//! half-to-even rounds the exact decimal value, as the formatter does.

use std::fmt::Write as _;

/// Append `v` with `places` (1 to 3) decimals, as `{v:.places$}` would.
pub fn push_fixed(out: &mut String, v: f32, places: u32) {
    let places = places.clamp(1, 3);
    let scale = 10u64.pow(places);
    let x = f64::from(v) * scale as f64;
    if !x.is_finite() || x.abs() >= 1e15 {
        let _ = write!(out, "{v:.*}", places as usize);
        return;
    }
    let n = x.round_ties_even().abs() as u64;
    if v.is_sign_negative() {
        out.push('-');
    }
    push_uint(out, n / scale);
    out.push('.');
    let frac = n % scale;
    let mut div = scale / 10;
    while div > 0 {
        out.push(char::from(b'0' + (frac / div % 10) as u8));
        div /= 10;
    }
}

/// `v` with `places` decimals for `format!`: `Fixed(p, 2)` writes what
/// `{p:.2}` writes.
#[derive(Debug, Clone, Copy)]
pub struct Fixed(pub f32, pub u32);

impl std::fmt::Display for Fixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::with_capacity(16);
        push_fixed(&mut s, self.0, self.1);
        f.write_str(&s)
    }
}

fn push_uint(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(char::from(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(v: f32) {
        for places in 1..=3u32 {
            let mut got = String::new();
            push_fixed(&mut got, v, places);
            assert_eq!(got, format!("{v:.*}", places as usize), "{v:e} with {places} places");
            assert_eq!(Fixed(v, places).to_string(), got);
        }
    }

    #[test]
    fn writes_what_the_formatter_writes() {
        // Ties (exactly representable halves), signs, zeros, large values.
        for v in [
            0.0,
            -0.0,
            0.125,
            0.375,
            2.5,
            0.005,
            0.015,
            0.045,
            1.0,
            -1.0,
            0.999_5,
            0.995,
            -0.001,
            9.999,
            12345.678,
            1e12,
            -3.25e9,
            1e30,
            f32::MAX,
            f32::MIN_POSITIVE,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ] {
            same(v);
        }
        // A sweep over the range the reasons use, and some random bit patterns.
        let mut x: u32 = 0x9e37_79b9;
        for i in 0..200_000u32 {
            same(i as f32 / 20_000.0 - 2.0);
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            same(f32::from_bits(x));
        }
    }
}
