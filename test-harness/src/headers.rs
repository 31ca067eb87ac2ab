//! An ordered, multi-valued header map that behaves like Envoy's `HeaderMapImpl` where the
//! filter can observe it.

use std::fmt;

/// An ordered list of header entries, names lower-cased.
///
/// Envoy semantics this type follows:
/// - names are lower-cased on every insertion and lookup (`Http::LowerCaseString`);
/// - pseudo-headers (`:…`) are kept in front of the regular headers, in insertion order;
/// - [`get`](Self::get) returns the first value of a repeated header (what
///   `proxy_get_header_map_value` returns);
/// - [`replace`](Self::replace) removes every entry of the name and appends one (`setCopy`
///   since Envoy 1.15), so the header moves to the end;
/// - [`byte_size`](Self::byte_size) is the sum of name and value lengths (`byteSize()`), which
///   `proxy_get_header_map_size` returns.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    entries: Vec<(String, String)>,
}

impl HeaderMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an entry (`addCopy`): after the last pseudo-header for a pseudo-header, else at
    /// the end.
    pub fn add(&mut self, name: impl AsRef<str>, value: impl Into<String>) {
        let name = name.as_ref().to_ascii_lowercase();
        let value = value.into();
        if name.starts_with(':') {
            let at = self
                .entries
                .iter()
                .position(|(k, _)| !k.starts_with(':'))
                .unwrap_or(self.entries.len());
            self.entries.insert(at, (name, value));
        } else {
            self.entries.push((name, value));
        }
    }

    /// Removes every entry of `name`, then adds one (`setCopy`).
    pub fn replace(&mut self, name: impl AsRef<str>, value: impl Into<String>) {
        self.remove(name.as_ref());
        self.add(name, value);
    }

    /// Sets the first entry of `name` in place and drops the others, or adds it (how Envoy sets
    /// an inline header such as `content-length`).
    pub(crate) fn set_in_place(&mut self, name: &str, value: impl Into<String>) {
        let name = name.to_ascii_lowercase();
        match self.entries.iter().position(|(k, _)| *k == name) {
            Some(at) => {
                if let Some(entry) = self.entries.get_mut(at) {
                    entry.1 = value.into();
                }
                let mut seen = 0usize;
                self.entries.retain(|(k, _)| {
                    if *k == name {
                        seen += 1;
                        seen == 1
                    } else {
                        true
                    }
                });
            }
            None => self.add(name, value),
        }
    }

    /// Removes every entry of `name`; returns how many there were.
    pub fn remove(&mut self, name: &str) -> usize {
        let name = name.to_ascii_lowercase();
        let before = self.entries.len();
        self.entries.retain(|(k, _)| *k != name);
        before - self.entries.len()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.entries.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.entries
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The number of entries (what Envoy passes as `num_headers`).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Sum of the name and value lengths of all entries (Envoy's `HeaderMap::byteSize`).
    pub fn byte_size(&self) -> usize {
        self.entries.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// The map in the proxy-wasm pairs layout (see [`crate::pairs`]).
    pub fn to_pairs_bytes(&self) -> Vec<u8> {
        crate::pairs::serialize(self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Replaces the whole content with `pairs` (`proxy_set_header_map_pairs`).
    pub(crate) fn set_all(&mut self, pairs: Vec<(String, String)>) {
        self.entries.clear();
        for (k, v) in pairs {
            self.add(k, v);
        }
    }
}

impl fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<K: AsRef<str>, V: Into<String>> FromIterator<(K, V)> for HeaderMap {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = Self::new();
        for (k, v) in iter {
            map.add(k, v);
        }
        map
    }
}

/// Serialised as a JSON object; a repeated name's values are joined with `", "` (RFC 9110
/// field-line combination), in order.
impl serde::Serialize for HeaderMap {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut names: Vec<&str> = Vec::new();
        for (k, _) in self.iter() {
            if !names.contains(&k) {
                names.push(k);
            }
        }
        let mut map = serializer.serialize_map(Some(names.len()))?;
        for name in names {
            map.serialize_entry(name, &self.get_all(name).join(", "))?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_headers_stay_in_front() {
        let mut map = HeaderMap::new();
        map.add(":authority", "a");
        map.add("x-one", "1");
        map.add(":path", "/");
        assert_eq!(
            map.iter().collect::<Vec<_>>(),
            [(":authority", "a"), (":path", "/"), ("x-one", "1")]
        );
    }

    #[test]
    fn replace_removes_all_and_appends() {
        let mut map: HeaderMap = [("A", "1"), ("b", "2"), ("a", "3")].into_iter().collect();
        map.replace("a", "9");
        assert_eq!(map.iter().collect::<Vec<_>>(), [("b", "2"), ("a", "9")]);
        assert_eq!(map.get("A"), Some("9"));
        assert_eq!(map.byte_size(), 4);
    }

    #[test]
    fn json_joins_repeated_names() {
        let map: HeaderMap = [("a", "1"), ("b", "2"), ("a", "3")].into_iter().collect();
        let json = serde_json::to_string(&map).unwrap();
        assert_eq!(json, r#"{"a":"1, 3","b":"2"}"#);
    }
}
