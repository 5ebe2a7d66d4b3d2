//! Inclusion proofs by entry and consistency proofs between two tree sizes (JSON, hex hashes).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Json, Response};
use serde::{Deserialize, Serialize};

use super::{parse_id, Problem};
use crate::app::Shared;

#[derive(Deserialize)]
pub struct InclusionQuery {
    /// Tree size to prove against; the latest tree head when absent.
    pub tree_size: Option<u64>,
}

/// An RFC 9162 inclusion proof, as served by `GET /entries/{id}/inclusion-proof`: the shape
/// [`inclusion_json`] writes, read back by its test.
#[cfg(test)]
#[derive(Serialize, Deserialize, Debug)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub root: String,
    pub path: Vec<String>,
}

#[derive(Deserialize)]
pub struct ConsistencyQuery {
    pub old: u64,
    /// The latest tree size when absent.
    pub new: Option<u64>,
}

/// An RFC 9162 consistency proof, as served by `GET /proofs/consistency`.
#[derive(Serialize, Deserialize, Debug)]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    pub old_root: String,
    pub new_root: String,
    pub path: Vec<String>,
}

fn hexes(hashes: &[[u8; 32]]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

/// The JSON of an inclusion proof (`InclusionProof`), written into one buffer: the route is
/// the hottest read (target 50k/s), and serde's way costs a `String` per hash. Only numbers and
/// hex digits go in, so nothing needs escaping; a test checks it parses as `InclusionProof`.
fn inclusion_json(leaf_index: u64, tree_size: u64, root: &[u8; 32], path: &[[u8; 32]]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::with_capacity(96 + 67 * (path.len() + 1));
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        r#"{{"leaf_index":{leaf_index},"tree_size":{tree_size},"root":""#
    );
    push_hex(&mut out, root);
    out.extend_from_slice(br#"","path":["#);
    for (i, h) in path.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        push_hex(&mut out, h);
        out.push(b'"');
    }
    out.extend_from_slice(b"]}");
    out
}

fn push_hex(out: &mut Vec<u8>, h: &[u8; 32]) {
    let mut buf = [0u8; 64];
    // 64 bytes is exactly the room 32 bytes need, so this cannot fail.
    if hex::encode_to_slice(h, &mut buf).is_ok() {
        out.extend_from_slice(&buf);
    }
}

fn size_or_head(s: &Shared, size: Option<u64>) -> Result<u64, Problem> {
    let head = s.head().size;
    match size {
        None => Ok(head),
        Some(n) if n <= head => Ok(n),
        Some(n) => Err(Problem::bad_request(
            "Tree size beyond head",
            format!("tree size {n} is larger than the latest tree head ({head})"),
        )),
    }
}

/// `GET /entries/{id}/inclusion-proof[?tree_size=N]`.
pub async fn inclusion(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<InclusionQuery>,
) -> Response {
    let result = (|| {
        let id = parse_id(&id)?;
        let index = s
            .store
            .index_of(&id)
            .map_err(|e| Problem::internal(e.to_string()))?
            .ok_or_else(|| Problem::not_found("no registered statement has this entry id"))?;
        let size = size_or_head(&s, q.tree_size)?;
        if index >= size {
            return Err(Problem::bad_request(
                "Entry not in tree",
                format!("entry {index} is not in a tree of size {size}"),
            ));
        }
        let path = s
            .store
            .inclusion_proof(index, size)
            .map_err(|e| Problem::internal(e.to_string()))?;
        let head = s.head();
        let root = if size == head.size {
            head.root // the common case: no need to recompute the root
        } else {
            s.store
                .root_at(size)
                .map_err(|e| Problem::internal(e.to_string()))?
        };
        let mut resp = inclusion_json(index, size, &root, &path).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Ok(resp)
    })();
    result.unwrap_or_else(|p| p.for_request(&headers).into_response())
}

/// `GET /proofs/consistency?old=A[&new=B]`.
pub async fn consistency(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<ConsistencyQuery>,
) -> Response {
    let result = (|| {
        let new = size_or_head(&s, q.new)?;
        if q.old == 0 || q.old > new {
            return Err(Problem::bad_request(
                "Bad tree sizes",
                format!("need 0 < old <= new, got old {} new {new}", q.old),
            ));
        }
        let internal = |e: proverka_store::StoreError| Problem::internal(e.to_string());
        let path = s.store.consistency_proof(q.old, new).map_err(internal)?;
        Ok(Json(ConsistencyProof {
            old_size: q.old,
            new_size: new,
            old_root: hex::encode(s.store.root_at(q.old).map_err(internal)?),
            new_root: hex::encode(s.store.root_at(new).map_err(internal)?),
            path: hexes(&path),
        })
        .into_response())
    })();
    result.unwrap_or_else(|p| p.for_request(&headers).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_written_inclusion_proof_json_is_what_serde_reads_as_an_inclusion_proof() {
        for path in [
            vec![],
            vec![[7u8; 32]],
            vec![[1u8; 32], [0xab; 32], [0; 32]],
        ] {
            let json = inclusion_json(5, u64::MAX, &[0xcd; 32], &path);
            let p: InclusionProof = serde_json::from_slice(&json).expect("valid JSON");
            assert_eq!((p.leaf_index, p.tree_size), (5, u64::MAX));
            assert_eq!(p.root, hex::encode([0xcd; 32]));
            assert_eq!(p.path, hexes(&path));
        }
    }
}
