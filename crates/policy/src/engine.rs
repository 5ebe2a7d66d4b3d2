//! The schema and the names built from it, loaded once per process.

use std::str::FromStr;
use std::sync::OnceLock;

use cedar_policy::{EntityId, EntityTypeName, EntityUid, Schema, Validator};

use crate::Action;

/// The Proverka Cedar schema (Cedar schema syntax); also `docs/policy.cedarschema`.
pub const SCHEMA: &str = include_str!("proverka.cedarschema");

/// The built-in schema failed to load (a bug in this crate, caught by its tests).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EngineUnavailable;

pub(crate) struct Engine {
    pub validator: Validator,
    pub org: EntityTypeName,
    pub maker: EntityTypeName,
    pub model: EntityTypeName,
    pub zone: EntityTypeName,
    pub device: EntityTypeName,
    /// Action uids, in [`Action::ALL`] order.
    pub actions: Vec<EntityUid>,
}

impl Engine {
    fn load() -> Result<Engine, EngineUnavailable> {
        let (schema, _warnings) =
            Schema::from_cedarschema_str(SCHEMA).map_err(|_| EngineUnavailable)?;
        let name = |n: &str| EntityTypeName::from_str(n).map_err(|_| EngineUnavailable);
        let action_type = name("Proverka::Action")?;
        let actions = Action::ALL
            .iter()
            .map(|a| EntityUid::from_type_name_and_id(action_type.clone(), EntityId::new(a.name())))
            .collect();
        Ok(Engine {
            validator: Validator::new(schema),
            org: name("Proverka::Org")?,
            maker: name("Proverka::Maker")?,
            model: name("Proverka::Model")?,
            zone: name("Proverka::Zone")?,
            device: name("Proverka::Device")?,
            actions,
        })
    }

    pub fn uid(&self, ty: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
    }

    pub fn action(&self, action: Action) -> Result<&EntityUid, EngineUnavailable> {
        self.actions.get(action as usize).ok_or(EngineUnavailable)
    }
}

pub(crate) fn engine() -> Result<&'static Engine, EngineUnavailable> {
    static ENGINE: OnceLock<Result<Engine, EngineUnavailable>> = OnceLock::new();
    ENGINE.get_or_init(Engine::load).as_ref().map_err(|e| *e)
}

/// The parsed schema, for tools that want to validate or inspect policies themselves.
pub fn schema() -> Option<&'static Schema> {
    engine().ok().map(|e| e.validator.schema())
}
