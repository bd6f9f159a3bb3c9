//! Webhooks in the schema: a key's webhooks and their deliveries (queries), creating and
//! deleting them (mutations). Thin over [`crate::service::webhooks`].

use super::*;
use crate::service::webhooks::{self as hooks, NewWebhook, Subscription};
use entity::types::{DeliveryStatus, WebhookTopic};
use entity::{webhook, webhook_attempt, webhook_delivery, webhook_event};

/// A webhook: events on its topics, that its key may see, posted to its URL.
pub struct Webhook(pub webhook::Model);

/// A webhook: events on its topics, about records its key may see, posted to its URL.
#[Object]
impl Webhook {
    /// Id.
    async fn id(&self) -> i32 {
        self.0.id
    }
    /// Where events are posted.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// Its topics.
    async fn topics(&self) -> Vec<WebhookTopic> {
        Subscription::of(&self.0).topics
    }
    /// Only problems in these dimensions (empty: every dimension the key sees).
    async fn dimensions(&self) -> Vec<Dimension> {
        Subscription::of(&self.0).dimensions
    }
    /// Only these areas (empty: every area the key sees).
    async fn area_codes(&self) -> Vec<String> {
        Subscription::of(&self.0).area_codes
    }
    /// What it is for.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// When created (RFC 3339).
    async fn created_at(&self) -> String {
        self.0.created_at.to_rfc3339()
    }
    /// Until when the secret before the last rotation still signs deliveries beside the
    /// current one (RFC 3339); null when it no longer does.
    async fn previous_secret_until(&self) -> Option<String> {
        self.0
            .previous_secret_until
            .filter(|until| *until > chrono::Utc::now())
            .map(|until| until.to_rfc3339())
    }
}

/// A webhook and its new signing secret (created or rotated).
#[derive(SimpleObject)]
pub struct CreatedWebhook {
    /// The webhook.
    pub webhook: Webhook,
    /// The secret its deliveries are signed with (Standard Webhooks, `whsec_…`): shown this
    /// once; keep it with the receiver.
    pub secret: String,
}

/// One attempt to deliver.
#[derive(SimpleObject)]
pub struct WebhookAttempt {
    /// When (RFC 3339).
    pub at: String,
    /// The receiver's HTTP status, if it answered.
    pub response_status: Option<i32>,
    /// Why it failed without an answer.
    pub error: Option<String>,
    /// How long it took, ms.
    pub duration_ms: i32,
}

impl From<webhook_attempt::Model> for WebhookAttempt {
    fn from(a: webhook_attempt::Model) -> Self {
        Self {
            at: a.at.to_rfc3339(),
            response_status: a.response,
            error: a.error,
            duration_ms: a.duration_ms,
        }
    }
}

/// One event's delivery to a webhook.
#[derive(SimpleObject)]
pub struct WebhookDelivery {
    /// Id.
    pub id: i32,
    /// The event's id: the `webhook-id` header, the same on every attempt (drop repeats).
    pub event_id: String,
    /// The event's topic.
    pub topic: WebhookTopic,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i32,
    /// The last attempt's HTTP status, if the receiver answered.
    pub last_response_status: Option<i32>,
    /// Why the last attempt failed, or why it was withheld.
    pub last_error: Option<String>,
    /// When the next attempt is due (RFC 3339), while pending.
    pub next_attempt_at: Option<String>,
    /// When the event happened (RFC 3339).
    pub event_at: String,
    /// When it was delivered, given up or withheld (RFC 3339).
    pub finished_at: Option<String>,
    /// Every attempt, oldest first.
    pub attempt_log: Vec<WebhookAttempt>,
}

impl WebhookDelivery {
    fn new(
        d: webhook_delivery::Model,
        e: webhook_event::Model,
        log: Vec<webhook_attempt::Model>,
    ) -> Self {
        Self {
            id: d.id,
            event_id: hooks::message_id(e.id),
            topic: e.topic,
            status: d.status,
            attempts: d.attempts,
            last_response_status: d.last_response,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at.map(|t| t.to_rfc3339()),
            event_at: e.at.to_rfc3339(),
            finished_at: d.finished_at.map(|t| t.to_rfc3339()),
            attempt_log: log.into_iter().map(Into::into).collect(),
        }
    }
}

/// What a new webhook listens to and where it posts.
#[derive(InputObject)]
pub struct WebhookInput {
    /// Where to post: https (plain http only to a host the operator allows); never a
    /// private or loopback address unless the operator allows it.
    pub url: String,
    /// What to post.
    pub topics: Vec<WebhookTopic>,
    /// What it is for (at most 500 characters).
    pub description: Option<String>,
    /// Only problems in these dimensions.
    pub dimensions: Option<Vec<Dimension>>,
    /// Only these areas: province, district, subdistrict or village codes (at most 50).
    pub area_codes: Option<Vec<String>>,
}

/// Webhook queries.
#[derive(Default)]
pub struct WebhooksQuery;

#[Object]
impl WebhooksQuery {
    /// The webhooks of the calling key, oldest first.
    async fn webhooks(&self, ctx: &Context<'_>) -> Result<Vec<Webhook>> {
        let p = principal(ctx)?;
        Ok(hooks::list(db(ctx)?, p)
            .await
            .gql()?
            .into_iter()
            .map(Webhook)
            .collect())
    }

    /// The deliveries of one of the calling key's webhooks, newest first, with every
    /// attempt and the receiver's answers; NOT_FOUND for another key's webhook.
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        webhook_id: i32,
        #[graphql(desc = "Only deliveries in this state.")] status: Option<DeliveryStatus>,
        #[graphql(desc = "Page size: 20 unless given, at most 100.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the last edge of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<Connection<String, WebhookDelivery, EmptyFields, EmptyFields>> {
        let p = principal(ctx)?;
        let first = page_size(ctx, first).gql()?;
        let before = after
            .as_deref()
            .map(|c| decode_id_cursor("wd", c))
            .transpose()
            .gql()?;
        let db = db(ctx)?;
        let (rows, has_next) = hooks::deliveries(db, p, webhook_id, status, before, first)
            .await
            .gql()?;
        let ids: Vec<i32> = rows.iter().map(|(d, _)| d.id).collect();
        let mut log = hooks::attempts(db, &ids).await.gql()?;
        let mut conn = Connection::new(before.is_some(), has_next);
        conn.edges.extend(rows.into_iter().map(|(d, e)| {
            let attempts = log.remove(&d.id).unwrap_or_default();
            Edge::new(
                encode_id_cursor("wd", d.id),
                WebhookDelivery::new(d, e, attempts),
            )
        }));
        Ok(conn)
    }
}

/// Webhook mutations.
#[derive(Default)]
pub struct WebhooksMutation;

#[Object]
impl WebhooksMutation {
    /// Creates a webhook for the calling key: it is sent the events of its topics about
    /// records the key may see at the time of delivery, signed per Standard Webhooks with
    /// the secret returned here (shown once). Deliveries are retried with backoff for 24
    /// hours. At most 10 a key.
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        input: WebhookInput,
    ) -> Result<CreatedWebhook> {
        let p = principal(ctx)?;
        let default = crate::delivery::Policy::default();
        let policy = ctx
            .data_opt::<crate::delivery::Policy>()
            .unwrap_or(&default);
        let new = NewWebhook {
            url: input.url,
            topics: input.topics,
            description: input.description,
            dimensions: input.dimensions.unwrap_or_default(),
            area_codes: input.area_codes.unwrap_or_default(),
        };
        let (hook, secret) = hooks::create(db(ctx)?, p, policy, new).await.gql()?;
        Ok(CreatedWebhook {
            webhook: Webhook(hook),
            secret,
        })
    }

    /// Replaces the signing secret of one of the calling key's webhooks and returns the new
    /// one (shown this once). The secret it replaces keeps signing beside it for
    /// `keepPreviousHours` (24 unless given; 0 to 168), so the receiver can switch without
    /// refusing a delivery: each delivery meanwhile carries both signatures. NOT_FOUND for
    /// another key's webhook.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: i32,
        #[graphql(desc = "Hours the replaced secret still signs: 24 unless given, 0 to 168.")]
        keep_previous_hours: Option<i32>,
    ) -> Result<CreatedWebhook> {
        let p = principal(ctx)?;
        let keep = keep_previous_hours.unwrap_or(hooks::DEFAULT_KEEP_PREVIOUS_HOURS);
        let (hook, secret) = hooks::rotate_secret(db(ctx)?, p, id, keep).await.gql()?;
        Ok(CreatedWebhook {
            webhook: Webhook(hook),
            secret,
        })
    }

    /// Deletes one of the calling key's webhooks; nothing more is sent to it.
    async fn delete_webhook(&self, ctx: &Context<'_>, id: i32) -> Result<bool> {
        let p = principal(ctx)?;
        hooks::delete(db(ctx)?, p, id).await.gql()?;
        Ok(true)
    }
}
