//! The patch application engine: runs operations in place and keeps an undo
//! log so that a failing patch leaves the document exactly as it was.
//!
//! Undo entries refer to locations by the (sub)strings of the operations'
//! own paths, re-resolved at undo time. That is sound because entries are
//! undone in reverse order: when an entry is undone, the document is exactly
//! in the state right after the corresponding change, in which the parent
//! path resolves to the same container as it did when the change was made.
//! No path is cloned on the success path, and moved values are not copied.

use std::borrow::Cow;
use std::mem;
use std::ptr;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::equal::values_equal;
use super::error::{PatchError, PatchErrorKind};
use super::limits::{LimitKind, measure, string_len};
use super::patch::{ApplyOptions, Operation};
use super::pointer::{
    Fail, PathMode, array_index, body, child, child_mode, get, get_mut, member_key, member_mut,
    parse_index, split_last, token_count, unescape,
};

pub(crate) fn run(
    doc: &mut Value,
    ops: &[Operation],
    opts: &ApplyOptions,
) -> Result<(), PatchError> {
    let limits = &opts.limits;
    if ops.len() > limits.max_operations {
        return Err(PatchError::new(LimitKind::Operations.error(limits)));
    }
    let size = measure(doc, limits.max_depth, limits.max_document_bytes)
        .map_err(|kind| PatchError::new(kind.error(limits)))?;
    let mut engine = Engine {
        doc,
        opts,
        size,
        undo: Vec::with_capacity(ops.len().min(64)),
    };
    for (i, op) in ops.iter().enumerate() {
        if let Err(kind) = engine.step(op) {
            engine.rollback();
            return Err(PatchError::at(i, kind));
        }
    }
    Ok(())
}

/// How to undo one change. Paths are parent pointers borrowed from the
/// operations; `raw` is the escaped last token as written.
enum Undo<'o> {
    /// The whole document was replaced.
    Root { old: Value },
    /// A new member named `unescape(raw)` was inserted.
    MemberInserted { parent: &'o str, raw: &'o str },
    /// The member `raw` resolves to had its value replaced.
    MemberReplaced {
        parent: &'o str,
        raw: &'o str,
        old: Value,
    },
    /// The member `key` was removed from position `pos` (tracked only when
    /// serde_json preserves insertion order). `old` is `None` for the source
    /// of a `move`: the value is recovered by undoing the insertion.
    MemberRemoved {
        parent: &'o str,
        key: String,
        pos: Option<usize>,
        old: Option<Value>,
    },
    /// An element was inserted at `index`.
    ElementInserted { parent: &'o str, index: usize },
    /// The element at `index` was replaced.
    ElementReplaced {
        parent: &'o str,
        index: usize,
        old: Value,
    },
    /// The element at `index` was removed (`old` as for `MemberRemoved`).
    ElementRemoved {
        parent: &'o str,
        index: usize,
        old: Option<Value>,
    },
}

impl Undo<'_> {
    fn set_removed_value(&mut self, value: Value) {
        if let Self::MemberRemoved { old, .. } | Self::ElementRemoved { old, .. } = self {
            *old = Some(value);
        }
    }
}

struct Engine<'d, 'o> {
    doc: &'d mut Value,
    opts: &'o ApplyOptions,
    /// Exact compact serialized size of `doc`.
    size: usize,
    undo: Vec<Undo<'o>>,
}

/// Where a `move` destination lies relative to the moved value.
enum Relation {
    Inside,
    Same,
    Elsewhere,
}

impl<'o> Engine<'_, 'o> {
    fn step(&mut self, op: &'o Operation) -> Result<(), PatchErrorKind> {
        let mode = self.opts.mode;
        match op {
            Operation::Add { path, value } => {
                let vsize = self.measure_for(path, value)?;
                let undo = self
                    .place(path, value.clone(), vsize)
                    .map_err(|(fail, _)| fail.into_kind(path))?;
                self.undo.push(undo);
                self.check_size()
            }
            Operation::Remove { path } => {
                let (value, mut undo) = self.take(path).map_err(|f| f.into_kind(path))?;
                undo.set_removed_value(value);
                self.undo.push(undo);
                Ok(())
            }
            Operation::Replace { path, value } => {
                let vsize = self.measure_for(path, value)?;
                let undo = self
                    .replace(path, value.clone(), vsize)
                    .map_err(|f| f.into_kind(path))?;
                self.undo.push(undo);
                self.check_size()
            }
            Operation::Move { from, path } => {
                if !self.opts.allow_move_copy {
                    return Err(PatchErrorKind::Unsupported { op: "move" });
                }
                let src = get(self.doc, from, mode).map_err(|f| f.into_kind(from))?;
                match relation(self.doc, src, path, mode) {
                    Relation::Same => return Ok(()),
                    Relation::Inside => {
                        return Err(PatchErrorKind::MoveIntoOwnChild {
                            from: from.clone(),
                            path: path.clone(),
                        });
                    }
                    Relation::Elsewhere => {}
                }
                let vsize = self.measure_for(path, src)?;
                let (value, mut removal) = self.take(from).map_err(|f| f.into_kind(from))?;
                match self.place(path, value, vsize) {
                    Ok(insertion) => {
                        self.undo.push(removal);
                        self.undo.push(insertion);
                        self.check_size()
                    }
                    Err((fail, value)) => {
                        removal.set_removed_value(value);
                        self.undo.push(removal);
                        Err(fail.into_kind(path))
                    }
                }
            }
            Operation::Copy { from, path } => {
                if !self.opts.allow_move_copy {
                    return Err(PatchErrorKind::Unsupported { op: "copy" });
                }
                let src = get(self.doc, from, mode).map_err(|f| f.into_kind(from))?;
                let vsize = self.measure_for(path, src)?;
                let value = src.clone();
                let undo = self
                    .place(path, value, vsize)
                    .map_err(|(fail, _)| fail.into_kind(path))?;
                self.undo.push(undo);
                self.check_size()
            }
            Operation::Test { path, value } => {
                let actual = get(self.doc, path, mode).map_err(|f| f.into_kind(path))?;
                if values_equal(actual, value) {
                    Ok(())
                } else {
                    Err(PatchErrorKind::TestFailed { path: path.clone() })
                }
            }
        }
    }

    /// Checks that `value` fits the depth limit when written at `path`, and
    /// returns its serialized size.
    fn measure_for(&self, path: &str, value: &Value) -> Result<usize, PatchErrorKind> {
        let limits = &self.opts.limits;
        let location = token_count(path, self.opts.mode).map_err(|f| f.into_kind(path))?;
        measure(
            value,
            limits.max_depth.saturating_sub(location),
            limits.max_document_bytes,
        )
        .map_err(|kind| kind.error(limits))
    }

    fn check_size(&self) -> Result<(), PatchErrorKind> {
        if self.size > self.opts.limits.max_document_bytes {
            Err(LimitKind::DocumentBytes.error(&self.opts.limits))
        } else {
            Ok(())
        }
    }

    /// `add` semantics. On failure the value is handed back.
    fn place(
        &mut self,
        path: &'o str,
        value: Value,
        vsize: usize,
    ) -> Result<Undo<'o>, (Fail, Value)> {
        let mode = self.opts.mode;
        let (parent, raw) = match split_last(path, mode) {
            Err(fail) => return Err((fail, value)),
            Ok(None) => {
                self.size = vsize;
                let old = mem::replace(self.doc, value);
                return Ok(Undo::Root { old });
            }
            Ok(Some(split)) => split,
        };
        let token = unescape(raw);
        let container = match get_mut(self.doc, parent, mode) {
            Ok(container) => container,
            Err(fail) => return Err((fail, value)),
        };
        match container {
            Value::Object(map) => match member_mut(map, &token, child_mode(parent, mode)) {
                Err(fail) => Err((fail, value)),
                Ok(Some(slot)) => {
                    let old = swap(&mut self.size, slot, value, vsize);
                    Ok(Undo::MemberReplaced { parent, raw, old })
                }
                Ok(None) => {
                    let comma = usize::from(!map.is_empty());
                    self.size = self
                        .size
                        .saturating_add(string_len(&token) + 1 + comma)
                        .saturating_add(vsize);
                    map.insert(token.into_owned(), value);
                    Ok(Undo::MemberInserted { parent, raw })
                }
            },
            Value::Array(items) => {
                let index = if token == "-" {
                    items.len()
                } else {
                    match parse_index(&token) {
                        Some(index) if index <= items.len() => index,
                        _ => return Err((Fail::BadIndex, value)),
                    }
                };
                let comma = usize::from(!items.is_empty());
                self.size = self.size.saturating_add(vsize + comma);
                items.insert(index, value);
                Ok(Undo::ElementInserted { parent, index })
            }
            _ => Err((Fail::NotFound, value)),
        }
    }

    /// `replace` semantics: the target must exist.
    fn replace(&mut self, path: &'o str, value: Value, vsize: usize) -> Result<Undo<'o>, Fail> {
        let mode = self.opts.mode;
        let Some((parent, raw)) = split_last(path, mode)? else {
            self.size = vsize;
            let old = mem::replace(self.doc, value);
            return Ok(Undo::Root { old });
        };
        let token = unescape(raw);
        match get_mut(self.doc, parent, mode)? {
            Value::Object(map) => {
                let slot =
                    member_mut(map, &token, child_mode(parent, mode))?.ok_or(Fail::NotFound)?;
                let old = swap(&mut self.size, slot, value, vsize);
                Ok(Undo::MemberReplaced { parent, raw, old })
            }
            Value::Array(items) => {
                let index = array_index(&token, items.len())?;
                let slot = items.get_mut(index).ok_or(Fail::NotFound)?;
                let old = swap(&mut self.size, slot, value, vsize);
                Ok(Undo::ElementReplaced { parent, index, old })
            }
            _ => Err(Fail::NotFound),
        }
    }

    /// `remove` semantics. Returns the removed value and an undo entry whose
    /// value is still to be filled in.
    fn take(&mut self, path: &'o str) -> Result<(Value, Undo<'o>), Fail> {
        let mode = self.opts.mode;
        let Some((parent, raw)) = split_last(path, mode)? else {
            return Err(Fail::BadPointer("cannot remove the whole document"));
        };
        let token = unescape(raw);
        match get_mut(self.doc, parent, mode)? {
            Value::Object(map) => {
                let key: Cow<'_, str> = if map.contains_key(&*token) {
                    token
                } else {
                    let found =
                        member_key(map, &token, child_mode(parent, mode))?.ok_or(Fail::NotFound)?;
                    Cow::Owned(found.clone())
                };
                let (key, old, pos) = if preserves_order() {
                    // `Map::remove` would be a swap-remove: keep the order instead.
                    let pos = map.keys().position(|k| *k == *key).ok_or(Fail::NotFound)?;
                    let old = map.get_mut(&*key).map(mem::take).ok_or(Fail::NotFound)?;
                    map.retain(|k, _| *k != *key);
                    (key.into_owned(), old, Some(pos))
                } else {
                    let (key, old) = map.remove_entry(&*key).ok_or(Fail::NotFound)?;
                    (key, old, None)
                };
                let comma = usize::from(!map.is_empty());
                let removed = string_len(&key) + 1 + comma + size_of(&old);
                self.size = self.size.saturating_sub(removed);
                Ok((
                    old,
                    Undo::MemberRemoved {
                        parent,
                        key,
                        pos,
                        old: None,
                    },
                ))
            }
            Value::Array(items) => {
                let index = array_index(&token, items.len())?;
                let old = items.remove(index);
                let comma = usize::from(!items.is_empty());
                self.size = self.size.saturating_sub(size_of(&old) + comma);
                Ok((
                    old,
                    Undo::ElementRemoved {
                        parent,
                        index,
                        old: None,
                    },
                ))
            }
            _ => Err(Fail::NotFound),
        }
    }

    fn rollback(&mut self) {
        let mut carried = None;
        while let Some(entry) = self.undo.pop() {
            carried = self.revert(entry, carried.take());
        }
    }

    /// Undoes one change. Returns the value an insertion had placed (the
    /// moved value, needed by the matching removal); `carried` is that value
    /// from the previously undone entry.
    fn revert(&mut self, entry: Undo<'o>, carried: Option<Value>) -> Option<Value> {
        let mode = self.opts.mode;
        match entry {
            Undo::Root { old } => Some(mem::replace(self.doc, old)),
            Undo::MemberInserted { parent, raw } => match get_mut(self.doc, parent, mode) {
                // A new member is the last one in insertion order too, so even
                // a swap-remove keeps the order of the others.
                Ok(Value::Object(map)) => map.remove(&*unescape(raw)),
                _ => None,
            },
            Undo::MemberReplaced { parent, raw, old } => match get_mut(self.doc, parent, mode) {
                Ok(Value::Object(map)) => {
                    match member_mut(map, &unescape(raw), child_mode(parent, mode)) {
                        Ok(Some(slot)) => Some(mem::replace(slot, old)),
                        _ => None,
                    }
                }
                _ => None,
            },
            Undo::MemberRemoved {
                parent,
                key,
                pos,
                old,
            } => {
                let value = old.or(carried)?;
                if let Ok(Value::Object(map)) = get_mut(self.doc, parent, mode) {
                    match pos {
                        Some(pos) if pos < map.len() => reinsert_at(map, pos, key, value),
                        _ => {
                            map.insert(key, value);
                        }
                    }
                }
                None
            }
            Undo::ElementInserted { parent, index } => match get_mut(self.doc, parent, mode) {
                Ok(Value::Array(items)) if index < items.len() => Some(items.remove(index)),
                _ => None,
            },
            Undo::ElementReplaced { parent, index, old } => match get_mut(self.doc, parent, mode) {
                Ok(Value::Array(items)) => items.get_mut(index).map(|slot| mem::replace(slot, old)),
                _ => None,
            },
            Undo::ElementRemoved { parent, index, old } => {
                let value = old.or(carried)?;
                if let Ok(Value::Array(items)) = get_mut(self.doc, parent, mode) {
                    let index = index.min(items.len());
                    items.insert(index, value);
                }
                None
            }
        }
    }
}

/// Puts `value` (of serialized size `vsize`) in `slot`, keeping the
/// document's `size` in step; returns the value it replaced.
fn swap(size: &mut usize, slot: &mut Value, value: Value, vsize: usize) -> Value {
    let old = mem::replace(slot, value);
    *size = size.saturating_sub(size_of(&old)).saturating_add(vsize);
    old
}

/// Exact serialized size of a value (iterative, unbounded).
fn size_of(v: &Value) -> usize {
    measure(v, usize::MAX, usize::MAX).unwrap_or(0)
}

/// Where `path` lies relative to `src` (a value inside `doc`), decided by
/// node identity so that it is exact in both path modes.
fn relation(doc: &Value, src: &Value, path: &str, mode: PathMode) -> Relation {
    let Ok(body) = body(path, mode) else {
        return Relation::Elsewhere;
    };
    let mut current = doc;
    if let Some(body) = body {
        let mut m = mode;
        for (i, raw) in body.split('/').enumerate() {
            if ptr::eq(current, src) {
                return Relation::Inside;
            }
            let token = unescape(raw);
            match child(current, &token, m) {
                Ok(next) => current = next,
                Err(_) => return Relation::Elsewhere,
            }
            if i == 0 {
                m = mode.below(&token);
            }
        }
    }
    if ptr::eq(current, src) {
        Relation::Same
    } else {
        Relation::Elsewhere
    }
}

/// Whether serde_json was built with `preserve_order` (feature unification
/// can turn it on behind our back). Member order then matters, and undoing a
/// removal must put the member back at its position.
fn preserves_order() -> bool {
    static PRESERVES: OnceLock<bool> = OnceLock::new();
    *PRESERVES.get_or_init(|| {
        let mut probe = Map::new();
        probe.insert("b".to_owned(), Value::Null);
        probe.insert("a".to_owned(), Value::Null);
        probe.keys().next().is_some_and(|k| k == "b")
    })
}

/// Re-inserts `key` at position `pos` of an insertion-ordered map.
fn reinsert_at(map: &mut Map<String, Value>, pos: usize, key: String, value: Value) {
    let mut entries: Vec<(String, Value)> = mem::take(map).into_iter().collect();
    entries.insert(pos, (key, value));
    map.extend(entries);
}
