//! Values as Python sees them: results of pipelines, parameters, and the interpreter's
//! working values. `Display` is Python's `repr`.

use std::fmt;

use num_bigint::BigInt;
use num_traits::ToPrimitive;

use crate::ir::Type;
use crate::pyops::float_repr;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(BigInt),
    Float(f64),
    List(Vec<Value>),
    /// A list whose items are all of one type, as kernel slots (ints that fit i64): what a
    /// compiled `collect` returns, turned into Python objects (or an array) without an
    /// intermediate value per item.
    Packed(Type, Vec<u64>),
}

impl Value {
    pub fn int(v: i64) -> Value {
        Value::Int(BigInt::from(v))
    }

    pub fn ty(&self) -> Option<Type> {
        match self {
            Value::Bool(_) => Some(Type::Bool),
            Value::Int(_) => Some(Type::Int),
            Value::Float(_) => Some(Type::Float),
            Value::None | Value::List(_) | Value::Packed(..) => None,
        }
    }

    /// The items of a list (packed or not).
    pub fn into_items(self) -> Option<Vec<Value>> {
        match self {
            Value::List(items) => Some(items),
            Value::Packed(ty, slots) => {
                Some(slots.into_iter().map(|s| Value::from_slot(s, ty)).collect())
            }
            _ => None,
        }
    }

    /// The 8-byte slot a kernel reads for this scalar: i64 for int (None if it does not fit),
    /// f64 bits for float, 0/1 for bool.
    pub fn to_slot(&self) -> Option<u64> {
        match self {
            Value::Bool(b) => Some(*b as u64),
            Value::Int(v) => v.to_i64().map(|v| v as u64),
            Value::Float(f) => Some(f.to_bits()),
            Value::None | Value::List(_) | Value::Packed(..) => None,
        }
    }

    /// The inverse of `to_slot`.
    pub fn from_slot(bits: u64, ty: Type) -> Value {
        match ty {
            Type::Int => Value::int(bits as i64),
            Type::Float => Value::Float(f64::from_bits(bits)),
            Type::Bool => Value::Bool(bits & 0xff != 0),
            // A tagged number needs its tag too: `from_tagged`.
            Type::Num => Value::int(bits as i64),
        }
    }

    /// A tagged number from its two halves (payload slot, `ir::TAG_*`).
    pub fn from_tagged(lo: u64, tag: u64) -> Value {
        let ty = match tag {
            crate::ir::TAG_FLOAT => Type::Float,
            crate::ir::TAG_BOOL => Type::Bool,
            _ => Type::Int,
        };
        Value::from_slot(lo, ty)
    }

    /// The two halves of a tagged number (None for an int outside i64, or not a number).
    pub fn to_tagged(&self) -> Option<(u64, u64)> {
        Some((self.to_slot()?, self.ty()?.tag()))
    }

    pub fn as_int(&self) -> Option<&BigInt> {
        match self {
            Value::Int(v) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => f.write_str(&float_repr(*v)),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Packed(ty, slots) => {
                f.write_str("[")?;
                for (i, s) in slots.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", Value::from_slot(*s, *ty))?;
                }
                f.write_str("]")
            }
        }
    }
}
