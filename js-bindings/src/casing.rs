//! camelCase for the JS objects: a serializer adapter that renames every struct
//! field (`policy_reason` → `policyReason`) and leaves map keys alone, so the core's
//! one view of a decision ([`jitgate_core::DecisionView`]) becomes the package's
//! shape without a second copy of it. Field names are Rust's, hence structure; map
//! keys are data (header names, the signed claims, a policy's values) and stay as
//! they were sent.

use serde::ser::{
    Error as _, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant, SerializeTuple,
    SerializeTupleStruct, SerializeTupleVariant,
};
use serde::{Serialize, Serializer};

/// `value` serialized with its struct fields in camelCase.
pub struct CamelCase<'a, T: ?Sized>(pub &'a T);

impl<T: Serialize + ?Sized> Serialize for CamelCase<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(Adapter(serializer))
    }
}

/// `snake_case` → `camelCase`: each `_` dropped and the letter after it upper-cased.
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

struct Adapter<S>(S);

/// A compound serializer of the inner one, wrapping every element it is given.
struct Wrap<C>(C);

macro_rules! forward {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, v: $ty) -> Result<S::Ok, S::Error> { self.0.$method(v) })*
    };
}

impl<S: Serializer> Serializer for Adapter<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Wrap<S::SerializeSeq>;
    type SerializeTuple = Wrap<S::SerializeTuple>;
    type SerializeTupleStruct = Wrap<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Wrap<S::SerializeTupleVariant>;
    type SerializeMap = Wrap<S::SerializeMap>;
    type SerializeStruct = Wrap<S::SerializeMap>;
    type SerializeStructVariant = Wrap<S::SerializeStructVariant>;

    forward!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_none()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_some(&CamelCase(value))
    }

    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit()
    }

    fn serialize_unit_variant(self, name: &'static str, index: u32, variant: &'static str) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit_variant(name, index, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(name, &CamelCase(value))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0
            .serialize_newtype_variant(name, index, variant, &CamelCase(value))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        self.0.serialize_seq(len).map(Wrap)
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        self.0.serialize_tuple(len).map(Wrap)
    }

    fn serialize_tuple_struct(self, name: &'static str, len: usize) -> Result<Self::SerializeTupleStruct, S::Error> {
        self.0.serialize_tuple_struct(name, len).map(Wrap)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        self.0.serialize_tuple_variant(name, index, variant, len).map(Wrap)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        self.0.serialize_map(len).map(Wrap)
    }

    /// A struct becomes a map, so that its renamed keys need not be `'static`.
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Self::SerializeStruct, S::Error> {
        self.0.serialize_map(Some(len)).map(Wrap)
    }

    /// No view has a struct variant; refused rather than left in snake_case.
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        Err(S::Error::custom(format_args!(
            "camelCase: struct variant {name}::{variant} is not supported"
        )))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! wrap_elements {
    ($($trait:ident :: $method:ident),* $(,)?) => {
        $(impl<C: $trait> $trait for Wrap<C> {
            type Ok = C::Ok;
            type Error = C::Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
                self.0.$method(&CamelCase(value))
            }
            fn end(self) -> Result<C::Ok, C::Error> {
                self.0.end()
            }
        })*
    };
}

wrap_elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl<C: SerializeMap> SerializeMap for Wrap<C> {
    type Ok = C::Ok;
    type Error = C::Error;

    /// Map keys are data: written as they are.
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), C::Error> {
        self.0.serialize_key(key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.0.serialize_value(&CamelCase(value))
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        self.0.end()
    }
}

impl<C: SerializeMap> SerializeStruct for Wrap<C> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), C::Error> {
        self.0.serialize_entry(&camel_case(key), &CamelCase(value))
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        self.0.end()
    }
}

/// Never built ([`Adapter::serialize_struct_variant`] refuses), but the trait needs a type.
impl<C: SerializeStructVariant> SerializeStructVariant for Wrap<C> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), C::Error> {
        self.0.serialize_field(key, &CamelCase(value))
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        self.0.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Inner {
        eval_ns: u64,
        policy_reason: Option<&'static str>,
    }

    #[derive(Serialize)]
    struct Outer {
        decision_id: &'static str,
        audit: Inner,
        list: Vec<Inner>,
        headers: BTreeMap<&'static str, &'static str>,
        claims: serde_json::Value,
        maybe: Option<Inner>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        unit: (),
    }

    #[test]
    fn struct_fields_are_camel_cased_and_map_keys_kept() {
        let value = Outer {
            decision_id: "d",
            audit: Inner {
                eval_ns: 5,
                policy_reason: None,
            },
            list: vec![Inner {
                eval_ns: 1,
                policy_reason: Some("r"),
            }],
            headers: BTreeMap::from([("x-jit-subject", "a"), ("snake_name", "b")]),
            claims: json!({"not_before": 1, "jit": {"ticket_id": "T"}}),
            maybe: Some(Inner {
                eval_ns: 2,
                policy_reason: None,
            }),
            skipped: None,
            unit: (),
        };
        let got = serde_json::to_value(CamelCase(&value)).unwrap();
        assert_eq!(
            got,
            json!({
                "decisionId": "d",
                "audit": {"evalNs": 5, "policyReason": null},
                "list": [{"evalNs": 1, "policyReason": "r"}],
                "headers": {"x-jit-subject": "a", "snake_name": "b"},
                "claims": {"not_before": 1, "jit": {"ticket_id": "T"}},
                "maybe": {"evalNs": 2, "policyReason": null},
                "unit": null,
            })
        );
        // The same through the text serializer (the one `decide` uses).
        let text = serde_json::to_string(&CamelCase(&value)).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), got);
    }

    #[test]
    fn names_convert() {
        assert_eq!(camel_case("policy_reason"), "policyReason");
        assert_eq!(camel_case("revocations_age_s"), "revocationsAgeS");
        assert_eq!(camel_case("allow"), "allow");
        assert_eq!(camel_case("x5t_s256"), "x5tS256");
    }
}
