//! Shared data (key/value with compare-and-swap) and shared queues, as in proxy-wasm-cpp-host's
//! `SharedData` / `SharedQueue`, scoped to one VM id.

use crate::abi::Status;
use std::collections::{HashMap, VecDeque};

/// The shared key/value store of one VM id.
#[derive(Debug)]
pub(crate) struct SharedData {
    entries: HashMap<Vec<u8>, (Vec<u8>, u32)>,
    next_cas: u32,
}

impl Default for SharedData {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            next_cas: 1,
        }
    }
}

impl SharedData {
    fn next_cas(&mut self) -> u32 {
        let cas = self.next_cas;
        self.next_cas = self.next_cas.wrapping_add(1);
        if self.next_cas == 0 {
            // 0 means "no CAS" in the ABI, so it is never handed out.
            self.next_cas = 1;
        }
        cas
    }

    /// The value and its CAS token, or `NotFound`.
    pub(crate) fn get(&self, key: &[u8]) -> Result<(Vec<u8>, u32), Status> {
        self.entries.get(key).cloned().ok_or(Status::NotFound)
    }

    /// Stores `value`. A non-zero `cas` must match the current token of an existing key, else
    /// `CasMismatch`; a `cas` for a key that does not exist yet is ignored (as in Envoy).
    pub(crate) fn set(&mut self, key: &[u8], value: &[u8], cas: u32) -> Status {
        if let Some((_, current)) = self.entries.get(key) {
            if cas != 0 && cas != *current {
                return Status::CasMismatch;
            }
        }
        let token = self.next_cas();
        self.entries.insert(key.to_vec(), (value.to_vec(), token));
        Status::Ok
    }
}

/// One registered queue.
#[derive(Debug)]
struct Queue {
    name: Vec<u8>,
    root_context_id: u32,
    items: VecDeque<Vec<u8>>,
}

/// The shared queues of one VM id.
#[derive(Debug)]
pub(crate) struct SharedQueues {
    queues: HashMap<u32, Queue>,
    next_token: u32,
}

impl Default for SharedQueues {
    fn default() -> Self {
        Self {
            queues: HashMap::new(),
            next_token: 1,
        }
    }
}

impl SharedQueues {
    /// Registers (or re-registers, keeping its items) the queue `name` for `root_context_id`.
    pub(crate) fn register(&mut self, name: &[u8], root_context_id: u32) -> u32 {
        if let Some((token, queue)) = self.queues.iter_mut().find(|(_, q)| q.name == name) {
            queue.root_context_id = root_context_id;
            return *token;
        }
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1).max(1);
        self.queues.insert(
            token,
            Queue {
                name: name.to_vec(),
                root_context_id,
                items: VecDeque::new(),
            },
        );
        token
    }

    /// The token of the queue `name`, or `NotFound`.
    pub(crate) fn resolve(&self, name: &[u8]) -> Result<u32, Status> {
        self.queues
            .iter()
            .find(|(_, q)| q.name == name)
            .map(|(t, _)| *t)
            .ok_or(Status::NotFound)
    }

    /// Appends to a queue; returns the root context to notify with `proxy_on_queue_ready`.
    pub(crate) fn enqueue(&mut self, token: u32, value: &[u8]) -> Result<u32, Status> {
        let queue = self.queues.get_mut(&token).ok_or(Status::NotFound)?;
        queue.items.push_back(value.to_vec());
        Ok(queue.root_context_id)
    }

    /// Takes the oldest item: `NotFound` for an unknown token, `Empty` for an empty queue.
    pub(crate) fn dequeue(&mut self, token: u32) -> Result<Vec<u8>, Status> {
        let queue = self.queues.get_mut(&token).ok_or(Status::NotFound)?;
        queue.items.pop_front().ok_or(Status::Empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_semantics_match_envoy() {
        let mut d = SharedData::default();
        assert_eq!(d.get(b"k"), Err(Status::NotFound));
        assert_eq!(d.set(b"k", b"v1", 77), Status::Ok, "cas ignored for a new key");
        let (v, cas) = d.get(b"k").unwrap();
        assert_eq!(v, b"v1");
        assert_eq!(d.set(b"k", b"v2", cas + 1), Status::CasMismatch);
        assert_eq!(d.set(b"k", b"v2", cas), Status::Ok);
        let (_, cas2) = d.get(b"k").unwrap();
        assert_ne!(cas, cas2);
        assert_eq!(d.set(b"k", b"v3", 0), Status::Ok, "cas 0 always writes");
    }

    #[test]
    fn queues() {
        let mut q = SharedQueues::default();
        let t = q.register(b"q", 1);
        assert_eq!(q.resolve(b"q"), Ok(t));
        assert_eq!(q.resolve(b"other"), Err(Status::NotFound));
        assert_eq!(q.dequeue(t), Err(Status::Empty));
        assert_eq!(q.enqueue(t, b"a"), Ok(1));
        assert_eq!(q.dequeue(t), Ok(b"a".to_vec()));
        assert_eq!(q.dequeue(t + 1), Err(Status::NotFound));
    }
}
