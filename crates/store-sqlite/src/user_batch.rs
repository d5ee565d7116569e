//! Group commit for user inserts.
//!
//! SQLite has one writer, and every statement sent to it costs a hand-off to its worker
//! thread and back. Provisioning bursts (an IdP pushing thousands of users) would queue one
//! insert per hand-off; instead, the inserts waiting at a given moment go out as one
//! multi-row statement. `ON CONFLICT DO NOTHING RETURNING id` tells which rows went in, so
//! each caller still gets its own answer (a taken userName is a `Conflict` for that caller
//! only, including two of the same batch).

use crate::{backend, emails_json, ms};
use directory::model::UserRecord;
use directory::store::{StoreError, StoreResult};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use std::collections::HashSet;
use tokio::sync::{mpsc, oneshot};

/// Rows per statement: 14 parameters a row, well under SQLite's 32,766.
const MAX_BATCH: usize = 256;

type Job = (UserRecord, oneshot::Sender<StoreResult<()>>);

pub(crate) struct UserInserter {
    jobs: mpsc::Sender<Job>,
}

impl UserInserter {
    pub(crate) fn spawn(writer: SqlitePool) -> Self {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(writer, rx));
        UserInserter { jobs }
    }

    pub(crate) async fn insert(&self, user: UserRecord) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send((user, reply))
            .await
            .map_err(|_| StoreError::Backend("the user writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Backend("the user writer dropped an insert".into()))?
    }
}

async fn run(writer: SqlitePool, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match insert_batch(&writer, &batch).await {
            Ok(inserted) => {
                for (user, reply) in batch.drain(..) {
                    let outcome = if inserted.contains(&user.id.to_string()) {
                        Ok(())
                    } else {
                        Err(StoreError::Conflict("userName".into()))
                    };
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

async fn insert_batch(writer: &SqlitePool, batch: &[Job]) -> StoreResult<HashSet<String>> {
    let mut qb = QueryBuilder::<Sqlite>::new(
        "INSERT INTO users (id, org_id, user_name, user_name_lower, external_id, display_name, display_name_lower, active, emails_json, doc, managed_by, created_at, updated_at, version) ",
    );
    qb.push_values(batch, |mut row, (u, _)| {
        row.push_bind(u.id.to_string())
            .push_bind(u.org_id.to_string())
            .push_bind(u.user_name.clone())
            .push_bind(u.user_name.to_lowercase())
            .push_bind(u.external_id.clone())
            .push_bind(u.display_name.clone())
            .push_bind(u.display_name.as_ref().map(|d| d.to_lowercase()))
            .push_bind(u.active as i64)
            .push_bind(emails_json(u))
            .push_bind(u.doc.to_string())
            .push_bind(u.managed_by.as_str())
            .push_bind(ms(u.created_at))
            .push_bind(ms(u.updated_at))
            .push_bind(u.version);
    });
    qb.push(" ON CONFLICT DO NOTHING RETURNING id");
    let ids: Vec<String> = qb
        .build_query_scalar()
        .fetch_all(writer)
        .await
        .map_err(backend)?;
    Ok(ids.into_iter().collect())
}
