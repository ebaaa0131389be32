//! Faults and chaos: `POST`/`GET`/`DELETE /_fake/faults`, `POST`/`DELETE /_fake/chaos`,
//! `PUT`/`GET /_fake/latency`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State as Extract;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Deserializer, Serialize};
use truemed_ext::Operation;

use super::{allow, created, invalid, no_content, ok, Answer, Body, Fake};
use crate::decode::{number_within, present, words, Whole};
use crate::fault::{Chaos, Fault, FaultKind};
use crate::limits::{
    millis, CHAOS_PROBABILITY, MAX_CHAOS_FAULTS, MAX_CHAOS_SEED, MAX_CHAOS_WEIGHT, MAX_FAULT_TIMES,
    MAX_LATENCY, MAX_QUEUED_FAULTS, MAX_RETRY_AFTER,
};
use crate::shared::Shared;
use crate::state::State;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/_fake/faults",
            allow(
                get(list_faults).post(inject_fault).delete(clear_faults),
                "GET, HEAD, POST, DELETE",
            ),
        )
        .route("/_fake/chaos", allow(post(set_chaos).delete(clear_chaos), "POST, DELETE"))
        .route("/_fake/latency", allow(get(get_latency).put(set_latency), "GET, HEAD, PUT"))
}

/// The longest latency or delay, in milliseconds.
const MAX_LATENCY_MS: u64 = millis(MAX_LATENCY);
/// The longest `Retry-After`, in milliseconds.
const MAX_RETRY_AFTER_MS: u64 = millis(MAX_RETRY_AFTER);
/// The most hits of one fault.
const MAX_TIMES: u64 = MAX_FAULT_TIMES as u64;

words! {
    /// The API's operations, by the spec's `operationId`s (`Operation`).
    enum OperationName {
        GetQualificationSession = "get_qualification_session",
        ListQualificationSessions = "list_qualification_sessions",
        UpdateQualificationSession = "update_qualification_session",
    }
}

impl From<OperationName> for Operation {
    fn from(name: OperationName) -> Self {
        match name {
            OperationName::GetQualificationSession => Operation::Get,
            OperationName::ListQualificationSessions => Operation::List,
            OperationName::UpdateQualificationSession => Operation::Update,
        }
    }
}

words! {
    /// What a fault does (its `kind`).
    enum FaultKindName {
        Status = "status",
        DropConnection = "drop_connection",
        LoseResponse = "lose_response",
        Delay = "delay",
    }
}

/// A fault as the control API takes it (`Fault`), checked as it is read: the fields
/// another kind takes are refused, even as null (the field's path names them).
#[derive(Debug, Deserialize)]
#[serde(try_from = "FaultFields")]
pub(super) struct FaultBody(Fault);

/// The fields of a fault, each checked on its own. Those of one kind are
/// `Option<Option<_>>`: given (even as null) to another kind, they are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultFields {
    kind: FaultKindName,
    #[serde(default, deserialize_with = "present")]
    status: Option<Option<Whole<300, 599>>>,
    #[serde(default, deserialize_with = "present")]
    retry_after_ms: Option<Option<Whole<0, MAX_RETRY_AFTER_MS>>>,
    #[serde(default, deserialize_with = "present")]
    delay_ms: Option<Option<Whole<0, MAX_LATENCY_MS>>>,
    times: Option<Whole<1, MAX_TIMES>>,
    operation: Option<OperationName>,
}

impl TryFrom<FaultFields> for FaultBody {
    /// `field: what is wrong`, which the decoder prefixes with where the fault is.
    type Error = String;

    fn try_from(fields: FaultFields) -> Result<Self, String> {
        let kind = fields.kind;
        let takes = |field: &str| match field {
            "status" | "retry_after_ms" => kind == FaultKindName::Status,
            "delay_ms" => kind == FaultKindName::Delay,
            _ => true,
        };
        for (field, given) in [
            ("status", fields.status.is_some()),
            ("retry_after_ms", fields.retry_after_ms.is_some()),
            ("delay_ms", fields.delay_ms.is_some()),
        ] {
            if given && !takes(field) {
                return Err(format!("{field}: not allowed with kind {:?}", kind.word()));
            }
        }
        let required =
            |field: &str| format!("{field}: this field is required with kind {:?}", kind.word());
        let mut fault = match kind {
            FaultKindName::Status => {
                let Whole(status) = fields.status.flatten().ok_or_else(|| required("status"))?;
                let fault = Fault::status(u16::try_from(status).unwrap_or(503));
                match fields.retry_after_ms.flatten() {
                    Some(Whole(ms)) => fault.retry_after(Duration::from_millis(ms)),
                    None => fault,
                }
            }
            FaultKindName::DropConnection => Fault::drop_connection(),
            FaultKindName::LoseResponse => Fault::lose_response(),
            FaultKindName::Delay => {
                let Whole(ms) = fields.delay_ms.flatten().ok_or_else(|| required("delay_ms"))?;
                Fault::delay(Duration::from_millis(ms))
            }
        };
        if let Some(times) = fields.times {
            fault = fault.times(times.as_u32());
        }
        if let Some(operation) = fields.operation {
            fault = fault.on(operation.into());
        }
        Ok(Self(fault))
    }
}

/// A queued fault as the control API shows it (`QueuedFault`).
#[derive(Debug, Serialize)]
struct QueuedFault {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    times: u32,
    remaining: u32,
    operation: Option<&'static str>,
}

impl QueuedFault {
    fn new(fault: &Fault, remaining: u32) -> Self {
        let (kind, status, delay) = match &fault.kind {
            FaultKind::Status(status) => (FaultKindName::Status, Some(*status), None),
            FaultKind::DropConnection => (FaultKindName::DropConnection, None, None),
            FaultKind::LoseResponse => (FaultKindName::LoseResponse, None, None),
            FaultKind::Delay(delay) => (FaultKindName::Delay, None, Some(millis(*delay))),
        };
        Self {
            kind: kind.word(),
            status,
            retry_after_ms: status.and(fault.retry_after).map(millis),
            delay_ms: delay,
            times: fault.times,
            remaining,
            operation: fault.on.map(Operation::id),
        }
    }
}

/// The queued faults and their pending hits (`FaultQueue`), read together under the lock.
#[derive(Debug, Serialize)]
struct FaultQueue {
    pending_faults: u32,
    faults: Vec<QueuedFault>,
}

impl FaultQueue {
    fn of(state: &State) -> Self {
        Self {
            pending_faults: state.pending_faults(),
            faults: state
                .queued_faults()
                .iter()
                .map(|(fault, remaining)| QueuedFault::new(fault, *remaining))
                .collect(),
        }
    }
}

async fn list_faults(Extract(shared): Fake) -> Answer {
    let queue = FaultQueue::of(&shared.state());
    ok(queue)
}

async fn inject_fault(Extract(shared): Fake, Body(FaultBody(fault)): Body<FaultBody>) -> Answer {
    // The queue as this fault left it, read under the same lock.
    let queue = {
        let mut state = shared.state();
        if state.queued_fault_count() >= MAX_QUEUED_FAULTS {
            return Err(invalid(format!(
                "kind: at most {MAX_QUEUED_FAULTS} faults can be queued; clear them with DELETE /_fake/faults."
            )));
        }
        state.inject(fault);
        FaultQueue::of(&state)
    };
    created(queue)
}

async fn clear_faults(Extract(shared): Fake) -> Answer {
    shared.state().clear_faults();
    no_content()
}

/// A probability: 0 to 1.
#[derive(Debug, Clone, Copy)]
struct Probability(f64);

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        number_within(deserializer, CHAOS_PROBABILITY, false).map(Self)
    }
}

/// The weight of a fault in a chaos mix: above 0, at most [`MAX_CHAOS_WEIGHT`].
#[derive(Debug, Clone, Copy)]
struct Weight(f64);

impl<'de> Deserialize<'de> for Weight {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        number_within(deserializer, 0.0..=MAX_CHAOS_WEIGHT, true).map(Self)
    }
}

/// One fault of a chaos mix, with its weight (`WeightedFault`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WeightedFault {
    weight: Weight,
    fault: FaultBody,
}

/// The faults of a chaos mix: 1 to [`MAX_CHAOS_FAULTS`].
#[derive(Debug)]
struct ChaosFaults(Vec<WeightedFault>);

impl<'de> Deserialize<'de> for ChaosFaults {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let faults = Vec::<WeightedFault>::deserialize(deserializer)?;
        if faults.is_empty() || faults.len() > MAX_CHAOS_FAULTS {
            return Err(serde::de::Error::custom(format!(
                "give 1 to {MAX_CHAOS_FAULTS} faults, or leave it out for the default mix"
            )));
        }
        Ok(Self(faults))
    }
}

/// Seeded random faults, as the control API takes them (`Chaos`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChaosBody {
    probability: Probability,
    seed: Option<Whole<0, MAX_CHAOS_SEED>>,
    operation: Option<OperationName>,
    faults: Option<ChaosFaults>,
}

impl ChaosBody {
    fn into_chaos(self) -> Chaos {
        let Probability(probability) = self.probability;
        let mut chaos = Chaos::seeded(self.seed.map_or(0, |Whole(seed)| seed));
        match self.faults {
            None => chaos = chaos.mixed(probability),
            Some(ChaosFaults(faults)) => {
                let total: f64 = faults.iter().map(|entry| entry.weight.0).sum();
                for WeightedFault { weight: Weight(weight), fault: FaultBody(fault) } in faults {
                    chaos = chaos.with(probability * weight / total, fault);
                }
            }
        }
        if let Some(operation) = self.operation {
            chaos = chaos.on(operation.into());
        }
        chaos
    }
}

async fn set_chaos(Extract(shared): Fake, Body(body): Body<ChaosBody>) -> Answer {
    shared.state().set_chaos(Some(body.into_chaos().start()));
    no_content()
}

async fn clear_chaos(Extract(shared): Fake) -> Answer {
    shared.state().set_chaos(None);
    no_content()
}

/// `PUT /_fake/latency`'s body, and `GET`'s answer (`Latency`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyBody {
    latency_ms: Whole<0, MAX_LATENCY_MS>,
}

/// The latency added to every API request (`Latency`).
#[derive(Debug, Serialize)]
struct Latency {
    latency_ms: u64,
}

async fn get_latency(Extract(shared): Fake) -> Answer {
    ok(Latency { latency_ms: millis(shared.latency()) })
}

async fn set_latency(Extract(shared): Fake, Body(body): Body<LatencyBody>) -> Answer {
    let Whole(ms) = body.latency_ms;
    // The latency this request set, whatever a later one sets.
    shared.set_latency(Duration::from_millis(ms));
    ok(Latency { latency_ms: ms })
}
