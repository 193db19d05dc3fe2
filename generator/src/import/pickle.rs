//! A restricted unpickler: the opcodes torch checkpoints use and an allow-list of globals; it builds
//! plain values and never runs code from the file.

use super::value::{Dtype, Global, Object, Storage, Tensor, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Why a pickle could not be read.
#[derive(Debug)]
pub enum PickleError {
    /// The pickle names a global outside the allow-list.
    UnknownGlobal(String),
    /// The bytes are not a pickle of the expected shape (truncated, unknown opcode, …).
    Bad(String),
}

pub(super) fn bad<T>(reason: impl Into<String>) -> Result<T, PickleError> {
    Err(PickleError::Bad(reason.into()))
}

/// What the unpickler asks of the file format around it.
pub trait Loader {
    /// Resolves a persistent id (`BINPERSID`), e.g. a torch storage.
    fn persistent_load(&mut self, pid: Value) -> Result<Value, PickleError>;
    /// `torch.storage._load_from_bytes(b)`: a whole legacy torch file held in a bytes object.
    fn load_from_bytes(&mut self, bytes: &[u8]) -> Result<Value, PickleError>;
}

/// The globals these files may name, resolved from `module.name`.
fn resolve_global(module: &str, name: &str) -> Result<Global, PickleError> {
    let global = match (module, name) {
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensor,
        ("torch._utils", "_rebuild_parameter") => Global::RebuildParameter,
        ("torch.storage", "_load_from_bytes") => Global::LoadFromBytes,
        ("torch_utils.persistence", "_reconstruct_persistent_obj") => Global::PersistentObject,
        ("dnnlib.util", "EasyDict") | ("dnnlib", "EasyDict") => Global::EasyDict,
        ("numpy.core.multiarray" | "numpy._core.multiarray", "scalar") => Global::NumpyScalar,
        ("numpy", "dtype") => Global::NumpyDtype,
        ("torch", storage) => match Dtype::from_storage_class(storage) {
            Some(dtype) => Global::StorageClass(dtype),
            None => return Err(PickleError::UnknownGlobal(format!("{module}.{name}"))),
        },
        _ => return Err(PickleError::UnknownGlobal(format!("{module}.{name}"))),
    };
    Ok(global)
}

/// Reads one pickle starting at `pos` in `data`; returns the value and the position after `STOP`.
pub fn unpickle(
    data: &[u8],
    pos: usize,
    loader: &mut dyn Loader,
) -> Result<(Value, usize), PickleError> {
    let mut u = Unpickler {
        data,
        pos,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    };
    let value = u.run(loader)?;
    Ok((value, u.pos))
}

struct Unpickler<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<Vec<Value>>,
    memo: HashMap<u64, Value>,
}

impl<'a> Unpickler<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => bad(format!(
                "the pickle ends early: {n} bytes wanted at byte {} of {}",
                self.pos,
                self.data.len()
            )),
        }
    }

    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn le(&mut self, n: usize) -> Result<u64, PickleError> {
        let bytes = self.take(n)?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn len(&mut self, n: usize) -> Result<usize, PickleError> {
        let len = self.le(n)?;
        usize::try_from(len).or_else(|_| bad(format!("length {len} is too large")))
    }

    fn line(&mut self) -> Result<&'a str, PickleError> {
        let rest = &self.data[self.pos.min(self.data.len())..];
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return bad("a GLOBAL line has no end");
        };
        let line = self.take(end + 1)?;
        std::str::from_utf8(&line[..end]).or_else(|_| bad("a GLOBAL line is not UTF-8"))
    }

    fn string(&mut self, n: usize) -> Result<Value, PickleError> {
        let bytes = self.take(n)?;
        let text = std::str::from_utf8(bytes).or_else(|_| bad("a string is not UTF-8"))?;
        Ok(Value::Str(text.into()))
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        match self.stack.pop() {
            Some(v) => Ok(v),
            None => bad(format!("stack underflow at byte {}", self.pos)),
        }
    }

    fn top(&mut self) -> Result<&mut Value, PickleError> {
        let pos = self.pos;
        self.stack
            .last_mut()
            .ok_or_else(|| PickleError::Bad(format!("stack underflow at byte {pos}")))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let Some(outer) = self.marks.pop() else {
            return bad(format!("no MARK before byte {}", self.pos));
        };
        Ok(std::mem::replace(&mut self.stack, outer))
    }

    fn get(&self, key: u64) -> Result<Value, PickleError> {
        match self.memo.get(&key) {
            Some(v) => Ok(v.clone()),
            None => bad(format!("memo entry {key} is not set")),
        }
    }

    fn put(&mut self, key: u64) -> Result<(), PickleError> {
        let value = match self.stack.last() {
            Some(v) => v.clone(),
            None => return bad("memoizing an empty stack"),
        };
        self.memo.insert(key, value);
        Ok(())
    }

    fn run(&mut self, loader: &mut dyn Loader) -> Result<Value, PickleError> {
        loop {
            let at = self.pos;
            let op = self.u8()?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return bad(format!("pickle protocol {proto} is not supported"));
                    }
                }
                0x95 => {
                    self.le(8)?;
                }
                b'.' => return self.pop(),
                b'}' => self.stack.push(Value::new_dict()),
                b']' | 0x8f => self.stack.push(Value::new_list()),
                b')' => self.stack.push(Value::Tuple(Rc::new(Vec::new()))),
                b'(' => {
                    let outer = std::mem::take(&mut self.stack);
                    self.marks.push(outer);
                }
                b'J' => {
                    let v = self.le(4)? as u32 as i32;
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'M' => {
                    let v = self.le(2)?;
                    self.stack.push(Value::Int(v as i64));
                }
                0x8a | 0x8b => {
                    let n = if op == 0x8a {
                        self.len(1)?
                    } else {
                        self.len(4)?
                    };
                    let bytes = self.take(n)?;
                    self.stack.push(long_value(bytes));
                }
                b'X' | 0x8c | 0x8d | b'T' | b'U' => {
                    let n = match op {
                        b'X' | b'T' => self.len(4)?,
                        0x8d => self.len(8)?,
                        _ => self.len(1)?,
                    };
                    let s = self.string(n)?;
                    self.stack.push(s);
                }
                b'B' | b'C' | 0x8e => {
                    let n = match op {
                        b'B' => self.len(4)?,
                        b'C' => self.len(1)?,
                        _ => self.len(8)?,
                    };
                    let bytes = self.take(n)?.to_vec();
                    self.stack.push(Value::Bytes(Rc::new(bytes)));
                }
                b'q' => {
                    let k = self.le(1)?;
                    self.put(k)?;
                }
                b'r' => {
                    let k = self.le(4)?;
                    self.put(k)?;
                }
                0x94 => {
                    let k = self.memo.len() as u64;
                    self.put(k)?;
                }
                b'h' => {
                    let k = self.le(1)?;
                    let v = self.get(k)?;
                    self.stack.push(v);
                }
                b'j' => {
                    let k = self.le(4)?;
                    let v = self.get(k)?;
                    self.stack.push(v);
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let g = resolve_global(module, name)?;
                    self.stack.push(Value::Global(g));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module.as_str(), name.as_str()) {
                        (Some(m), Some(n)) => {
                            let g = resolve_global(m, n)?;
                            self.stack.push(Value::Global(g));
                        }
                        _ => return bad("STACK_GLOBAL without two strings"),
                    }
                }
                b'R' => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let v = reduce(func, args, loader)?;
                    self.stack.push(v);
                }
                0x81 => {
                    let _args = self.pop()?;
                    let cls = self.pop()?;
                    match cls {
                        Value::Global(Global::EasyDict | Global::OrderedDict) => {
                            self.stack.push(Value::new_dict())
                        }
                        other => return bad(format!("NEWOBJ of {}", other.kind())),
                    }
                }
                b'b' => {
                    // BUILD: the state of dicts (attributes such as `_metadata`) and of opaque
                    // numpy objects is not needed; nothing is ever called.
                    let _state = self.pop()?;
                    let target = self.top()?;
                    if !matches!(target, Value::Dict(_) | Value::Opaque(_)) {
                        let kind = target.kind();
                        return bad(format!("BUILD on {kind}"));
                    }
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    self.top()?.dict_insert(key, value)?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return bad("SETITEMS with an odd number of items");
                    }
                    let target = self.top()?;
                    let mut items = items.into_iter();
                    while let (Some(k), Some(v)) = (items.next(), items.next()) {
                        target.dict_insert(k, v)?;
                    }
                }
                b'a' => {
                    let value = self.pop()?;
                    self.top()?.list_extend(vec![value])?;
                }
                b'e' | 0x90 => {
                    let items = self.pop_mark()?;
                    self.top()?.list_extend(items)?;
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(Rc::new(items)));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n {
                        return bad(format!("stack underflow at byte {at}"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(Rc::new(items)));
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = loader.persistent_load(pid)?;
                    self.stack.push(v);
                }
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'G' => {
                    let bytes = self.take(8)?;
                    let mut b = [0u8; 8];
                    b.copy_from_slice(bytes);
                    self.stack.push(Value::Float(f64::from_be_bytes(b)));
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.stack.push(v);
                }
                other => {
                    return bad(format!(
                        "pickle opcode 0x{other:02x} at byte {at} is not supported"
                    ));
                }
            }
        }
    }
}

/// A LONG1/LONG4 value: little-endian two's complement.
fn long_value(bytes: &[u8]) -> Value {
    if bytes.len() <= 8 {
        let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
        let mut buf = if negative { [0xffu8; 8] } else { [0u8; 8] };
        buf[..bytes.len()].copy_from_slice(bytes);
        Value::Int(i64::from_le_bytes(buf))
    } else {
        Value::BigInt(Rc::new(bytes.to_vec()))
    }
}

fn reduce(func: Value, args: Value, loader: &mut dyn Loader) -> Result<Value, PickleError> {
    let Value::Global(global) = func else {
        return bad(format!("REDUCE calls {}, not a known global", func.kind()));
    };
    let Value::Tuple(args) = &args else {
        return bad("REDUCE arguments are not a tuple");
    };
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::None);
    match global {
        Global::OrderedDict | Global::EasyDict => Ok(Value::new_dict()),
        Global::RebuildTensor => rebuild_tensor(args),
        Global::RebuildParameter => match &arg(0) {
            Value::Tensor(t) => Ok(Value::Tensor(t.clone())),
            other => bad(format!("_rebuild_parameter of {}", other.kind())),
        },
        Global::LoadFromBytes => match &arg(0) {
            Value::Bytes(bytes) => loader.load_from_bytes(bytes),
            other => bad(format!("_load_from_bytes of {}", other.kind())),
        },
        Global::PersistentObject => {
            let meta = arg(0);
            let class = meta.get("class_name");
            let state = meta.get("state").unwrap_or(Value::None);
            let kind = meta.get("type");
            match (kind.as_ref().and_then(Value::as_str), &class) {
                (Some("class"), Some(Value::Str(class))) => Ok(Value::Object(Rc::new(Object {
                    class: class.clone(),
                    state,
                }))),
                _ => Ok(Value::Opaque("persistent module")),
            }
        }
        Global::NumpyScalar => Ok(Value::Opaque("numpy scalar")),
        Global::NumpyDtype => Ok(Value::Opaque("numpy dtype")),
        Global::StorageClass(_) => bad("a storage class is called directly"),
    }
}

fn usizes(value: &Value, what: &str) -> Result<Vec<usize>, PickleError> {
    let Value::Tuple(items) = value else {
        return bad(format!("tensor {what} is not a tuple"));
    };
    items
        .iter()
        .map(|v| match v {
            Value::Int(i) if *i >= 0 => Ok(*i as usize),
            _ => bad(format!("tensor {what} holds {}", v.kind())),
        })
        .collect()
}

fn rebuild_tensor(args: &[Value]) -> Result<Value, PickleError> {
    let (Some(Value::Storage(storage)), Some(Value::Int(offset)), Some(size), Some(stride)) =
        (args.first(), args.get(1), args.get(2), args.get(3))
    else {
        return bad("_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, …)");
    };
    let shape = usizes(size, "size")?;
    let stride = usizes(stride, "stride")?;
    if shape.len() != stride.len() || *offset < 0 {
        return bad("tensor size, stride and offset disagree");
    }
    let tensor = Tensor {
        storage: storage.clone(),
        offset: *offset as usize,
        shape,
        stride,
    };
    tensor.check_bounds()?;
    Ok(Value::Tensor(Rc::new(tensor)))
}

/// A storage of `numel` elements whose bytes arrive later (legacy files) or now (zip files).
pub fn new_storage(dtype: Dtype, key: String, numel: usize, bytes: Option<Vec<u8>>) -> Rc<Storage> {
    Rc::new(Storage {
        dtype,
        key,
        numel,
        bytes: RefCell::new(bytes.map(Rc::new)),
    })
}
