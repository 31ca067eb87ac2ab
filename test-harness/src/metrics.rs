//! Metrics defined by the module (`proxy_define_metric` and friends), with Envoy's ids and
//! status codes.

use crate::abi::{MetricType, Status};
use std::collections::HashMap;

// Envoy (proxy-wasm-cpp-host `WasmBase`) encodes the type in the two low bits of the id and
// hands out ids in steps of 4 per type: counters 4, 8, …; gauges 5, 9, …; histograms 6, 10, ….
const TYPE_MASK: u32 = 0x3;
const ID_INCREMENT: u32 = 0x4;

/// The value of one metric.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum MetricValue {
    /// A counter or gauge.
    Number(u64),
    /// Every value a histogram recorded, in order.
    Samples(Vec<u64>),
}

/// A metric as the test sees it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Metric {
    /// The name the module defined (Envoy exposes it as `wasmcustom.<name>`).
    pub name: String,
    /// The type.
    #[serde(rename = "type")]
    pub kind: MetricType,
    /// The value.
    pub value: MetricValue,
}

/// All metrics of one VM.
#[derive(Debug, Default)]
pub(crate) struct VmMetrics {
    metrics: Vec<Metric>,
    by_id: HashMap<u32, usize>,
    by_name: HashMap<(u32, String), u32>,
    next_id: [u32; 3],
}

impl VmMetrics {
    /// `proxy_define_metric`: the same type and name give the same id (they are the same stat in
    /// Envoy's store either way); an unknown type is `BadArgument`.
    pub(crate) fn define(&mut self, kind: u32, name: &str) -> Result<u32, Status> {
        let kind = MetricType::from_u32(kind).ok_or(Status::BadArgument)?;
        let key = (kind as u32, name.to_string());
        if let Some(id) = self.by_name.get(&key) {
            return Ok(*id);
        }
        let slot = self.next_id.get_mut(kind as usize).ok_or(Status::BadArgument)?;
        *slot = slot.checked_add(ID_INCREMENT).ok_or(Status::InternalFailure)?;
        let id = *slot | kind as u32;
        let value = match kind {
            MetricType::Histogram => MetricValue::Samples(Vec::new()),
            _ => MetricValue::Number(0),
        };
        self.by_id.insert(id, self.metrics.len());
        self.by_name.insert(key, id);
        self.metrics.push(Metric {
            name: name.to_string(),
            kind,
            value,
        });
        Ok(id)
    }

    fn slot(&mut self, id: u32) -> Option<&mut MetricValue> {
        let index = *self.by_id.get(&id)?;
        self.metrics.get_mut(index).map(|m| &mut m.value)
    }

    /// `proxy_increment_metric`: counters take only positive offsets (else `BadArgument`), gauges
    /// move either way (saturating at 0 and `u64::MAX`), histograms are `BadArgument`.
    pub(crate) fn increment(&mut self, id: u32, offset: i64) -> Status {
        match id & TYPE_MASK {
            0 => match self.slot(id) {
                Some(MetricValue::Number(v)) if offset > 0 => {
                    *v = v.saturating_add(offset.unsigned_abs());
                    Status::Ok
                }
                Some(_) => Status::BadArgument,
                None => Status::NotFound,
            },
            1 => match self.slot(id) {
                Some(MetricValue::Number(v)) => {
                    *v = if offset >= 0 {
                        v.saturating_add(offset.unsigned_abs())
                    } else {
                        v.saturating_sub(offset.unsigned_abs())
                    };
                    Status::Ok
                }
                Some(_) => Status::BadArgument,
                None => Status::NotFound,
            },
            _ => Status::BadArgument,
        }
    }

    /// `proxy_record_metric`: adds to a counter, sets a gauge, records into a histogram.
    pub(crate) fn record(&mut self, id: u32, value: u64) -> Status {
        let kind = id & TYPE_MASK;
        match self.slot(id) {
            Some(MetricValue::Number(v)) if kind == 0 => {
                *v = v.saturating_add(value);
                Status::Ok
            }
            Some(MetricValue::Number(v)) => {
                *v = value;
                Status::Ok
            }
            Some(MetricValue::Samples(s)) => {
                s.push(value);
                Status::Ok
            }
            None => Status::NotFound,
        }
    }

    /// `proxy_get_metric`: histograms (and the unused type 3) are `BadArgument`.
    pub(crate) fn get(&mut self, id: u32) -> Result<u64, Status> {
        if id & TYPE_MASK > 1 {
            return Err(Status::BadArgument);
        }
        match self.slot(id) {
            Some(MetricValue::Number(v)) => Ok(*v),
            Some(MetricValue::Samples(_)) => Err(Status::BadArgument),
            None => Err(Status::NotFound),
        }
    }

    pub(crate) fn all(&self) -> &[Metric] {
        &self.metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_statuses_match_envoy() {
        let mut m = VmMetrics::default();
        let c = m.define(0, "c").unwrap();
        let g = m.define(1, "g").unwrap();
        let h = m.define(2, "h").unwrap();
        assert_eq!((c, g, h), (4, 5, 6));
        assert_eq!(m.define(0, "c"), Ok(4));
        assert_eq!(m.define(0, "d"), Ok(8));
        assert_eq!(m.define(3, "x"), Err(Status::BadArgument));

        assert_eq!(m.increment(c, 2), Status::Ok);
        assert_eq!(m.increment(c, 0), Status::BadArgument);
        assert_eq!(m.increment(c, -1), Status::BadArgument);
        assert_eq!(m.record(c, 3), Status::Ok);
        assert_eq!(m.get(c), Ok(5));

        assert_eq!(m.record(g, 1 << 63), Status::Ok);
        assert_eq!(m.increment(g, i64::MIN), Status::Ok);
        assert_eq!(m.get(g), Ok(0));
        assert_eq!(m.increment(g, -1), Status::Ok);
        assert_eq!(m.get(g), Ok(0));

        assert_eq!(m.increment(h, 1), Status::BadArgument);
        assert_eq!(m.record(h, 7), Status::Ok);
        assert_eq!(m.get(h), Err(Status::BadArgument));

        let unknown = 4000;
        assert_eq!(m.increment(unknown, 1), Status::NotFound);
        assert_eq!(m.increment(unknown + 1, 1), Status::NotFound);
        assert_eq!(m.record(unknown + 2, 1), Status::NotFound);
        assert_eq!(m.get(unknown), Err(Status::NotFound));
    }
}
