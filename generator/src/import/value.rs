//! The values a restricted unpickle produces: Python scalars and containers, torch storages and
//! tensors, and persistent-object states.

use super::pickle::{PickleError, bad};
use std::cell::RefCell;
use std::rc::Rc;

/// The globals the unpickler knows (everything else is refused by name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Global {
    /// `collections.OrderedDict`
    OrderedDict,
    /// `torch._utils._rebuild_tensor_v2`
    RebuildTensor,
    /// `torch._utils._rebuild_parameter`
    RebuildParameter,
    /// `torch.storage._load_from_bytes`
    LoadFromBytes,
    /// `torch_utils.persistence._reconstruct_persistent_obj`
    PersistentObject,
    /// `dnnlib.EasyDict`
    EasyDict,
    /// `numpy.core.multiarray.scalar` (kept opaque)
    NumpyScalar,
    /// `numpy.dtype` (kept opaque)
    NumpyDtype,
    /// `torch.FloatStorage` and the other typed storage classes.
    StorageClass(Dtype),
}

/// Element types of torch storages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// float32
    F32,
    /// float16
    F16,
    /// bfloat16
    BF16,
    /// float64
    F64,
    /// Any integer or bool storage (never a weight; kept for its size).
    Int(usize),
}

impl Dtype {
    /// The dtype of a `torch.<Name>Storage` class.
    pub fn from_storage_class(name: &str) -> Option<Dtype> {
        Some(match name {
            "FloatStorage" => Dtype::F32,
            "HalfStorage" => Dtype::F16,
            "BFloat16Storage" => Dtype::BF16,
            "DoubleStorage" => Dtype::F64,
            "LongStorage" => Dtype::Int(8),
            "IntStorage" => Dtype::Int(4),
            "ShortStorage" => Dtype::Int(2),
            "CharStorage" | "ByteStorage" | "BoolStorage" => Dtype::Int(1),
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::BF16 => 2,
            Dtype::F64 => 8,
            Dtype::Int(n) => n,
        }
    }
}

/// A torch storage: `numel` elements of `dtype`, its bytes once read.
#[derive(Debug)]
pub struct Storage {
    /// Element type.
    pub dtype: Dtype,
    /// The storage key in the file.
    pub key: String,
    /// Number of elements.
    pub numel: usize,
    /// Little-endian bytes (`numel · dtype.size()`), once read.
    pub bytes: RefCell<Option<Rc<Vec<u8>>>>,
}

/// A strided view of a storage.
#[derive(Debug)]
pub struct Tensor {
    /// The storage it views.
    pub storage: Rc<Storage>,
    /// First element, in elements.
    pub offset: usize,
    /// Shape.
    pub shape: Vec<usize>,
    /// Strides, in elements.
    pub stride: Vec<usize>,
}

impl Tensor {
    /// Number of elements (checked).
    pub fn numel(&self) -> Option<usize> {
        self.shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
    }

    /// Checks that every element lies inside the storage, with checked arithmetic.
    pub fn check_bounds(&self) -> Result<(), PickleError> {
        let Some(numel) = self.numel() else {
            return bad(format!("tensor shape {:?} is too large", self.shape));
        };
        if numel == 0 {
            return Ok(());
        }
        let last = self
            .shape
            .iter()
            .zip(&self.stride)
            .try_fold(self.offset, |acc, (&d, &s)| {
                (d - 1).checked_mul(s).and_then(|x| acc.checked_add(x))
            });
        match last {
            Some(last) if last < self.storage.numel => Ok(()),
            _ => bad(format!(
                "a tensor of shape {:?} (offset {}, stride {:?}) reaches past its storage `{}` of {} elements",
                self.shape, self.offset, self.stride, self.storage.key, self.storage.numel
            )),
        }
    }

    /// The elements in row-major order, widened to f32.
    pub fn to_f32(&self) -> Result<Vec<f32>, PickleError> {
        let bytes = self.storage.bytes.borrow();
        let Some(bytes) = bytes.as_ref() else {
            return bad(format!("storage `{}` has no data", self.storage.key));
        };
        let size = self.storage.dtype.size();
        let read: fn(&[u8]) -> f32 = match self.storage.dtype {
            Dtype::F32 => |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            Dtype::F16 => |b| half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
            Dtype::BF16 => |b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32(),
            Dtype::F64 => {
                |b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
            }
            Dtype::Int(_) => return bad("an integer tensor where floats were expected"),
        };
        self.check_bounds()?;
        if self.numel().is_none_or(|n| n > self.storage.numel) {
            return bad(format!(
                "a tensor of shape {:?} has more elements than its storage `{}`",
                self.shape, self.storage.key
            ));
        }
        if bytes.len() / size < self.storage.numel {
            return bad(format!(
                "storage `{}` holds {} bytes, fewer than its {} elements",
                self.storage.key,
                bytes.len(),
                self.storage.numel
            ));
        }
        let numel = self.numel().unwrap_or(0);
        let mut out = Vec::with_capacity(numel);
        let mut index = vec![0usize; self.shape.len()];
        for _ in 0..numel {
            let at: usize = self.offset
                + index
                    .iter()
                    .zip(&self.stride)
                    .map(|(&i, &s)| i * s)
                    .sum::<usize>();
            out.push(read(&bytes[at * size..at * size + size]));
            for d in (0..index.len()).rev() {
                index[d] += 1;
                if index[d] < self.shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        Ok(out)
    }
}

/// A `torch_utils.persistence` object: its class name and its `__dict__`.
#[derive(Debug)]
pub struct Object {
    /// The class name (e.g. `Generator`).
    pub class: Rc<str>,
    /// Its state dict.
    pub state: Value,
}

/// A value built by the unpickler.
#[derive(Clone, Debug)]
pub enum Value {
    /// `None`
    None,
    /// `bool`
    Bool(bool),
    /// An integer that fits i64.
    Int(i64),
    /// A larger integer, little-endian two's complement.
    BigInt(Rc<Vec<u8>>),
    /// `float`
    Float(f64),
    /// `str`
    Str(Rc<str>),
    /// `bytes`
    Bytes(Rc<Vec<u8>>),
    /// `tuple`
    Tuple(Rc<Vec<Value>>),
    /// `list` or `set`
    List(Rc<RefCell<Vec<Value>>>),
    /// `dict`, `OrderedDict` or `EasyDict`, in insertion order.
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    /// An allowed global.
    Global(Global),
    /// A torch storage.
    Storage(Rc<Storage>),
    /// A torch tensor or parameter.
    Tensor(Rc<Tensor>),
    /// A persistent object's class and state.
    Object(Rc<Object>),
    /// Something kept but never looked into (numpy scalars, …).
    Opaque(&'static str),
}

/// Values nest as deeply as the file says; dropping them one level at a time from an explicit
/// stack keeps a hostile nesting depth from overflowing the call stack.
impl Drop for Value {
    fn drop(&mut self) {
        let mut stack = Vec::new();
        self.take_children(&mut stack);
        while let Some(mut value) = stack.pop() {
            value.take_children(&mut stack);
        }
    }
}

impl Value {
    /// Moves the children this value alone owns onto `stack`.
    fn take_children(&mut self, stack: &mut Vec<Value>) {
        match self {
            Value::Tuple(items) => {
                if let Some(items) = Rc::get_mut(items) {
                    stack.append(items);
                }
            }
            Value::List(items) => {
                if let Some(items) = Rc::get_mut(items) {
                    stack.append(items.get_mut());
                }
            }
            Value::Dict(items) => {
                if let Some(items) = Rc::get_mut(items) {
                    for (k, v) in items.get_mut().drain(..) {
                        stack.push(k);
                        stack.push(v);
                    }
                }
            }
            Value::Object(object) => {
                if let Some(object) = Rc::get_mut(object) {
                    stack.push(std::mem::replace(&mut object.state, Value::None));
                }
            }
            _ => {}
        }
    }

    /// An empty dict.
    pub fn new_dict() -> Value {
        Value::Dict(Rc::new(RefCell::new(Vec::new())))
    }

    /// An empty list.
    pub fn new_list() -> Value {
        Value::List(Rc::new(RefCell::new(Vec::new())))
    }

    /// A short word for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "a bool",
            Value::Int(_) | Value::BigInt(_) => "an int",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "a tuple",
            Value::List(_) => "a list",
            Value::Dict(_) => "a dict",
            Value::Global(_) => "a global",
            Value::Storage(_) => "a storage",
            Value::Tensor(_) => "a tensor",
            Value::Object(_) => "an object",
            Value::Opaque(what) => what,
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A number as f64 (ints and floats).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// A non-negative integer.
    pub fn as_usize(&self) -> Option<usize> {
        match self {
            Value::Int(i) => usize::try_from(*i).ok(),
            _ => None,
        }
    }

    /// The entry of a dict (or of a persistent object's state) under a string key.
    pub fn get(&self, key: &str) -> Option<Value> {
        match self {
            Value::Dict(items) => items
                .borrow()
                .iter()
                .rev()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v.clone()),
            Value::Object(obj) => obj.state.get(key),
            _ => None,
        }
    }

    /// The string-keyed entries of a dict, in order.
    pub fn entries(&self) -> Vec<(String, Value)> {
        match self {
            Value::Dict(items) => items
                .borrow()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.clone())))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub(super) fn dict_insert(&mut self, key: Value, value: Value) -> Result<(), PickleError> {
        match self {
            Value::Dict(items) => {
                items.borrow_mut().push((key, value));
                Ok(())
            }
            other => bad(format!("SETITEM on {}", other.kind())),
        }
    }

    pub(super) fn list_extend(&mut self, values: Vec<Value>) -> Result<(), PickleError> {
        match self {
            Value::List(items) => {
                items.borrow_mut().extend(values);
                Ok(())
            }
            other => bad(format!("APPEND on {}", other.kind())),
        }
    }
}
