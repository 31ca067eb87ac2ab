//! The proxy-wasm serialisation of header maps ("pairs").
//!
//! Layout (little-endian, as proxy-wasm-cpp-host's `PairsUtil` writes it): a `u32` count N, then
//! N pairs of `u32` (name length, value length), then for each pair the name, a NUL byte, the
//! value and a NUL byte. The lengths do not count the NUL bytes.

/// Envoy ignores a serialised map larger than this (`PROXY_WASM_HOST_PAIRS_MAX_BYTES`).
pub const MAX_PAIRS_BYTES: usize = 1024 * 1024;
/// Envoy ignores a serialised map with more pairs than this (`PROXY_WASM_HOST_PAIRS_MAX_COUNT`).
pub const MAX_PAIRS_COUNT: usize = 1024;

/// Serialises `(name, value)` pairs in the proxy-wasm layout.
///
/// ```
/// let bytes = jitgate_harness::pairs::serialize([("a", "bc")]);
/// assert_eq!(bytes, [1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, b'a', 0, b'b', b'c', 0]);
/// ```
pub fn serialize<'a, K, V>(pairs: impl IntoIterator<Item = (&'a K, &'a V)>) -> Vec<u8>
where
    K: AsRef<[u8]> + ?Sized + 'a,
    V: AsRef<[u8]> + ?Sized + 'a,
{
    let pairs: Vec<(&[u8], &[u8])> = pairs.into_iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    let mut out = Vec::with_capacity(size_of_pairs(&pairs));
    out.extend_from_slice(&len_u32(pairs.len()).to_le_bytes());
    for (k, v) in &pairs {
        out.extend_from_slice(&len_u32(k.len()).to_le_bytes());
        out.extend_from_slice(&len_u32(v.len()).to_le_bytes());
    }
    for (k, v) in &pairs {
        out.extend_from_slice(k);
        out.push(0);
        out.extend_from_slice(v);
        out.push(0);
    }
    out
}

fn size_of_pairs(pairs: &[(&[u8], &[u8])]) -> usize {
    pairs
        .iter()
        .fold(4usize, |acc, (k, v)| acc.saturating_add(8 + k.len() + v.len() + 2))
}

fn len_u32(len: usize) -> u32 {
    // Lengths come from guest memory (at most 4 GiB) or from test input; saturate rather than
    // wrap so a corrupt length can never describe a smaller buffer than the one written.
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Parses the proxy-wasm layout the way Envoy does (`PairsUtil::toPairs`): anything malformed —
/// short, over-long, a missing NUL, trailing bytes, more than [`MAX_PAIRS_COUNT`] pairs or more
/// than [`MAX_PAIRS_BYTES`] bytes — yields an empty list, never an error.
///
/// ```
/// use jitgate_harness::pairs;
/// let bytes = pairs::serialize([("k", "v")]);
/// assert_eq!(pairs::deserialize(&bytes), vec![(b"k".to_vec(), b"v".to_vec())]);
/// assert!(pairs::deserialize(&bytes[..bytes.len() - 1]).is_empty());
/// ```
pub fn deserialize(buf: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    parse(buf).unwrap_or_default()
}

fn parse(buf: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    if buf.len() > MAX_PAIRS_BYTES {
        return None;
    }
    let count = read_u32(buf, 0)? as usize;
    if count > MAX_PAIRS_COUNT {
        return None;
    }
    let mut sizes = Vec::with_capacity(count);
    for i in 0..count {
        let at = 4 + i * 8;
        sizes.push((read_u32(buf, at)? as usize, read_u32(buf, at + 4)? as usize));
    }
    let mut pos = 4 + count * 8;
    let mut out = Vec::with_capacity(count);
    for (klen, vlen) in sizes {
        let key = take_nul_terminated(buf, &mut pos, klen)?;
        let value = take_nul_terminated(buf, &mut pos, vlen)?;
        out.push((key, value));
    }
    (pos == buf.len()).then_some(out)
}

fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = buf.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes))
}

fn take_nul_terminated(buf: &[u8], pos: &mut usize, len: usize) -> Option<Vec<u8>> {
    let end = pos.checked_add(len)?;
    let bytes = buf.get(*pos..end)?.to_vec();
    if *buf.get(end)? != 0 {
        return None;
    }
    *pos = end + 1;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_the_sdk_reference_map() {
        // The map and bytes of the proxy-wasm Rust SDK's own `hostcalls::utils` tests.
        let map = [
            (":method", "GET"),
            (":path", "/bytes/1"),
            (":authority", "httpbin.org"),
            ("Powered-By", "proxy-wasm"),
        ];
        #[rustfmt::skip]
        let expected: &[u8] = &[
            4, 0, 0, 0,
            7, 0, 0, 0, 3, 0, 0, 0,
            5, 0, 0, 0, 8, 0, 0, 0,
            10, 0, 0, 0, 11, 0, 0, 0,
            10, 0, 0, 0, 10, 0, 0, 0,
            58, 109, 101, 116, 104, 111, 100, 0,
            71, 69, 84, 0,
            58, 112, 97, 116, 104, 0,
            47, 98, 121, 116, 101, 115, 47, 49, 0,
            58, 97, 117, 116, 104, 111, 114, 105, 116, 121, 0,
            104, 116, 116, 112, 98, 105, 110, 46, 111, 114, 103, 0,
            80, 111, 119, 101, 114, 101, 100, 45, 66, 121, 0,
            112, 114, 111, 120, 121, 45, 119, 97, 115, 109, 0,
        ];
        let bytes = serialize(map.iter().map(|(k, v)| (*k, *v)));
        assert_eq!(bytes, expected);
        let back = deserialize(&bytes);
        assert_eq!(back.len(), 4);
        assert_eq!(back[3], (b"Powered-By".to_vec(), b"proxy-wasm".to_vec()));
    }

    #[test]
    fn empty_map_is_four_zero_bytes() {
        let none: [(&str, &str); 0] = [];
        assert_eq!(serialize(none), [0, 0, 0, 0]);
        assert!(deserialize(&[0, 0, 0, 0]).is_empty());
        assert!(deserialize(&[]).is_empty());
    }

    #[test]
    fn malformed_input_yields_nothing() {
        let good = serialize([("a", "b")]);
        // Missing NUL after the value.
        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last] = b'x';
        assert!(deserialize(&bad).is_empty());
        // Trailing garbage.
        let mut long = good.clone();
        long.push(0);
        assert!(deserialize(&long).is_empty());
        // Count larger than the data.
        let mut lying = good;
        lying[0] = 2;
        assert!(deserialize(&lying).is_empty());
        // Too many pairs.
        let mut huge = vec![0u8; 4];
        huge[..4].copy_from_slice(&((MAX_PAIRS_COUNT as u32) + 1).to_le_bytes());
        assert!(deserialize(&huge).is_empty());
        // Lengths that overflow.
        let overflow = [1, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255];
        assert!(deserialize(&overflow).is_empty());
    }
}
