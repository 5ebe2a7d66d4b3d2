//! Inclusion proofs by entry and consistency proofs between two tree sizes (JSON, hex hashes).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Response};
use serde::{Deserialize, Serialize};

use super::{parse_id, Problem};
use crate::app::Shared;

#[derive(Deserialize)]
pub struct InclusionQuery {
    /// Tree size to prove against; the latest tree head when absent.
    pub tree_size: Option<u64>,
}

/// An RFC 9162 inclusion proof, as served by `GET /entries/{id}/inclusion-proof`.
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
        Ok(Json(InclusionProof {
            leaf_index: index,
            tree_size: size,
            root: hex::encode(root),
            path: hexes(&path),
        })
        .into_response())
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
