//! torch's two file formats — the zip archive (`<name>/data.pkl` + `<name>/data/<key>`) and the
//! legacy stream (magic, protocol, sys info, data pickle, storage keys, raw storages) — and plain
//! pickles (stylegan2-ada network snapshots), read into [`Value`]s.

use super::pickle::{Loader, PickleError, bad, new_storage, unpickle};
use super::value::{Dtype, Global, Storage, Value};
use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::rc::Rc;

/// torch's legacy magic number (`0x1950a86a20f9469cfc6c`), as LONG1 little-endian bytes.
const LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
/// The legacy format's protocol version.
const LEGACY_PROTOCOL: i64 = 1001;
/// How deeply `_load_from_bytes` may nest.
const MAX_DEPTH: usize = 4;

/// Which container a file was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// torch's zip format (`torch.save` since 1.6).
    Zip,
    /// torch's legacy non-zip format.
    Legacy,
    /// A plain pickle (stylegan2-ada network snapshots).
    Pickle,
}

impl Container {
    /// A name for messages and the model card.
    pub fn describe(self) -> &'static str {
        match self {
            Container::Zip => "torch zip checkpoint",
            Container::Legacy => "torch legacy (non-zip) checkpoint",
            Container::Pickle => "Python pickle (stylegan2-ada network snapshot)",
        }
    }
}

/// Reads a whole file's bytes as whichever of the three containers it is.
pub fn read(bytes: &[u8]) -> Result<(Container, Value), PickleError> {
    if bytes.starts_with(b"PK\x03\x04") {
        return Ok((Container::Zip, read_zip(bytes)?));
    }
    if bytes.len() >= 3 && bytes[0] == 0x80 && bytes[2] == 0x8a {
        let mut loader = StreamLoader::new(0);
        let (magic, _) = unpickle(bytes, 0, &mut loader)?;
        if matches!(&magic, Value::BigInt(b) if b.as_slice() == LEGACY_MAGIC) {
            return Ok((Container::Legacy, read_legacy(bytes, 0)?));
        }
    }
    if bytes.first() == Some(&0x80) {
        let mut loader = StreamLoader::new(0);
        let (value, _) = unpickle(bytes, 0, &mut loader)?;
        return Ok((Container::Pickle, value));
    }
    bad("it is neither a torch checkpoint (zip or legacy) nor a pickle")
}

/// Parses `('storage', <class>, key, location, numel[, view])` persistent ids.
fn storage_id(pid: &Value) -> Result<(Dtype, String, usize), PickleError> {
    let Value::Tuple(items) = pid else {
        return bad("a persistent id is not a tuple");
    };
    match items.as_slice() {
        [
            Value::Str(tag),
            Value::Global(Global::StorageClass(dtype)),
            key,
            _location,
            Value::Int(numel),
            rest @ ..,
        ] if &**tag == "storage" && *numel >= 0 => {
            if let Some(view) = rest.first()
                && !matches!(view, Value::None)
            {
                return bad("storage views (old torch files) are not supported");
            }
            let key = match key {
                Value::Str(s) => s.to_string(),
                Value::Int(i) => i.to_string(),
                _ => return bad("a storage key is neither a string nor an int"),
            };
            let numel = usize::try_from(*numel).or_else(|_| bad("storage size too large"))?;
            Ok((*dtype, key, numel))
        }
        _ => bad("a persistent id is not a torch storage"),
    }
}

/// The legacy stream: storages are declared in the data pickle and filled from the tail.
struct StreamLoader {
    depth: usize,
    storages: HashMap<String, Rc<Storage>>,
}

impl StreamLoader {
    fn new(depth: usize) -> Self {
        Self {
            depth,
            storages: HashMap::new(),
        }
    }
}

impl Loader for StreamLoader {
    fn persistent_load(&mut self, pid: Value) -> Result<Value, PickleError> {
        let (dtype, key, numel) = storage_id(&pid)?;
        let storage = self
            .storages
            .entry(key.clone())
            .or_insert_with(|| new_storage(dtype, key, numel, None));
        Ok(Value::Storage(storage.clone()))
    }

    fn load_from_bytes(&mut self, bytes: &[u8]) -> Result<Value, PickleError> {
        if self.depth >= MAX_DEPTH {
            return bad("torch storages nest too deeply");
        }
        read_legacy(bytes, self.depth + 1)
    }
}

/// Reads a legacy torch stream (torch/serialization.py `_legacy_load`).
fn read_legacy(bytes: &[u8], depth: usize) -> Result<Value, PickleError> {
    let mut loader = StreamLoader::new(depth);
    let (magic, pos) = unpickle(bytes, 0, &mut loader)?;
    if !matches!(&magic, Value::BigInt(b) if b.as_slice() == LEGACY_MAGIC) {
        return bad("the legacy torch magic number is missing");
    }
    let (protocol, pos) = unpickle(bytes, pos, &mut loader)?;
    if !matches!(protocol, Value::Int(LEGACY_PROTOCOL)) {
        return bad("the legacy torch protocol version is not 1001");
    }
    let (sys_info, pos) = unpickle(bytes, pos, &mut loader)?;
    if matches!(sys_info.get("little_endian"), Some(Value::Bool(false))) {
        return bad("big-endian torch files are not supported");
    }
    let (value, pos) = unpickle(bytes, pos, &mut loader)?;
    let (keys, mut pos) = unpickle(bytes, pos, &mut loader)?;
    let Value::List(keys) = &keys else {
        return bad("the legacy storage key list is missing");
    };
    for key in keys.borrow().iter() {
        let Some(key) = key.as_str() else {
            return bad("a legacy storage key is not a string");
        };
        let Some(storage) = loader.storages.get(key) else {
            return bad(format!("storage `{key}` is listed but never used"));
        };
        let header = bytes
            .get(pos..pos.saturating_add(8))
            .filter(|h| h.len() == 8)
            .ok_or_else(|| PickleError::Bad(format!("the file ends before storage `{key}`")))?;
        let mut count = [0u8; 8];
        count.copy_from_slice(header);
        let count = u64::from_le_bytes(count);
        if count != storage.numel as u64 {
            return bad(format!(
                "storage `{key}` holds {count} elements, but the pickle says {}",
                storage.numel
            ));
        }
        let len = storage.numel.checked_mul(storage.dtype.size());
        let start = pos + 8;
        let end = len.and_then(|l| start.checked_add(l));
        let Some(data) = end.and_then(|end| bytes.get(start..end)) else {
            return bad(format!(
                "the file ends inside storage `{key}` ({} elements of {} bytes)",
                storage.numel,
                storage.dtype.size()
            ));
        };
        *storage.bytes.borrow_mut() = Some(Rc::new(data.to_vec()));
        pos = start + data.len();
    }
    Ok(value)
}

/// The zip format: storages are archive entries read as they are named.
struct ZipLoader<'a> {
    archive: zip::ZipArchive<Cursor<&'a [u8]>>,
    prefix: String,
    storages: HashMap<String, Rc<Storage>>,
}

impl Loader for ZipLoader<'_> {
    fn persistent_load(&mut self, pid: Value) -> Result<Value, PickleError> {
        let (dtype, key, numel) = storage_id(&pid)?;
        if let Some(storage) = self.storages.get(&key) {
            return Ok(Value::Storage(storage.clone()));
        }
        let name = format!("{}data/{key}", self.prefix);
        let want = numel.checked_mul(dtype.size());
        let data = read_entry(&mut self.archive, &name, want)?;
        if want.is_none_or(|w| data.len() < w) {
            return bad(format!(
                "archive entry {name} holds {} bytes, fewer than its {numel} elements",
                data.len()
            ));
        }
        let storage = new_storage(dtype, key.clone(), numel, Some(data));
        self.storages.insert(key, storage.clone());
        Ok(Value::Storage(storage))
    }

    fn load_from_bytes(&mut self, bytes: &[u8]) -> Result<Value, PickleError> {
        read_legacy(bytes, 1)
    }
}

fn read_entry(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
    limit: Option<usize>,
) -> Result<Vec<u8>, PickleError> {
    let mut file = archive
        .by_name(name)
        .map_err(|e| PickleError::Bad(format!("archive entry {name}: {e}")))?;
    let size = usize::try_from(file.size()).unwrap_or(usize::MAX);
    if limit.is_some_and(|l| size > l.saturating_add(4096)) {
        return bad(format!("archive entry {name} is larger than its storage"));
    }
    let mut data = Vec::with_capacity(size.min(64 << 20));
    file.read_to_end(&mut data)
        .map_err(|e| PickleError::Bad(format!("archive entry {name}: {e}")))?;
    Ok(data)
}

fn read_zip(bytes: &[u8]) -> Result<Value, PickleError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| PickleError::Bad(format!("not a readable zip archive: {e}")))?;
    let pkl = archive
        .file_names()
        .find(|n| n.ends_with("data.pkl") && n.matches('/').count() <= 1)
        .map(str::to_string)
        .ok_or_else(|| PickleError::Bad("the zip archive holds no data.pkl".into()))?;
    let prefix = pkl.trim_end_matches("data.pkl").to_string();
    let data = read_entry(&mut archive, &pkl, None)?;
    let mut loader = ZipLoader {
        archive,
        prefix,
        storages: HashMap::new(),
    };
    let (value, _) = unpickle(&data, 0, &mut loader)?;
    Ok(value)
}
