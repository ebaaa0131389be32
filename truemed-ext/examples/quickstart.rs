//! The quickstart: walks Truemed's Qualification Sessions API end to end.
//!
//! ```sh
//! cargo quickstart            # alias of: cargo run -p truemed-ext --example quickstart
//! ```
//!
//! With no `TRUEMED_API_KEY` set, it starts the embedded fake Truemed server seeded with
//! realistic sessions and runs every step: a filtered listing as a stream, a get, an update
//! with a generated idempotency key, a retry after an injected 503, and a typed
//! `user_id_already_set` error. With `TRUEMED_API_KEY` set (and optionally
//! `TRUEMED_BASE_URL`), it runs only the read-only steps against that environment.

use futures::TryStreamExt as _;
use truemed_ext::{ApiErrorKind, Client, Error, Status};
use truemed_fake::{FakeTruemed, Fault};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // Display, not Debug: it says what happened and what to do.
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os(truemed_ext::API_KEY_ENV).is_some() {
        let client = Client::from_env()?;
        println!("Using {} (read-only steps)", client.base_url());
        return read_only(&client).await;
    }

    let fake = FakeTruemed::start().await;
    for seed in truemed_fake::demo_sessions() {
        fake.seed(seed);
    }
    println!(
        "No {} set: started the fake Truemed server at {}",
        truemed_ext::API_KEY_ENV,
        fake.base_url()
    );
    let client = Client::builder().api_key(fake.api_key()).base_url(fake.base_url()).build()?;

    read_only(&client).await?;
    let sessions = client.qualification_sessions();

    step("3. Update a pending session (an idempotency key is generated once per call)");
    let pending: Vec<_> =
        sessions.list().status(Status::Pending).paginate().limit(2).items().try_collect().await?;
    let (first, second) =
        (&pending[0].qualification_session_id, &pending[1].qualification_session_id);
    let out = sessions
        .update(first)
        .user_id("crm-user-1001")
        .metadata(&serde_json::json!({"crm_id": 1001, "channel": "quickstart"}))
        .success_url("https://shop.example/checkout/success")
        .send()
        .await?;
    println!(
        "   updated {} (status {}) with key {}",
        out.qualification_session_id, out.status, out.idempotency_key
    );

    step("4. A 503 from Truemed is retried with the same key, and applied once");
    fake.inject(Fault::status(503).times(1));
    let before = fake.stats();
    let out = sessions.update(second).user_id("crm-user-1002").send().await?;
    let after = fake.stats();
    println!(
        "   updated {} after a retry: {} requests received, {} update applied, key {}",
        out.qualification_session_id,
        after.requests - before.requests,
        after.updates_applied - before.updates_applied,
        out.idempotency_key
    );

    step("5. Overwriting a user_id is refused with a typed error");
    match sessions.update(first).user_id("someone-else").send().await {
        Err(Error::Api(refused)) if refused.kind() == ApiErrorKind::UserIdAlreadySet => {
            println!("   ApiErrorKind::UserIdAlreadySet: {refused}")
        }
        other => return Err(format!("expected UserIdAlreadySet, got {other:?}").into()),
    }

    println!("\nDone. Point TRUEMED_API_KEY (and TRUEMED_BASE_URL) at a real environment to run the read-only steps there.");
    Ok(())
}

/// Steps 1 and 2: a filtered listing as a stream, then a get.
async fn read_only(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
    let sessions = client.qualification_sessions();
    step("1. List approved and rejected sessions, every page, as a stream");
    let decided: Vec<_> = sessions
        .list()
        .statuses([Status::Approved, Status::Rejected])
        .page_size(10)
        .paginate()
        .limit(200)
        .items()
        .try_collect()
        .await?;
    let approved = decided.iter().filter(|s| s.status == Status::Approved).count();
    println!(
        "   {} sessions: {approved} approved, {} rejected",
        decided.len(),
        decided.len() - approved
    );
    for session in decided.iter().take(3) {
        let expires =
            session.expires_at.map(|d| d.date_naive().to_string()).unwrap_or_else(|| "-".into());
        println!(
            "   {:<44} {:<9} LMN expires {expires}",
            session.qualification_session_id, session.status
        );
    }

    step("2. Get one session");
    let Some(any) = decided.first() else {
        println!("   no decided session to get");
        return Ok(());
    };
    let one = sessions.get(&any.qualification_session_id).await?;
    println!(
        "   {} is {} (created {}, eligible amount {})",
        one.qualification_session_id,
        one.status,
        one.created_at.map(|d| d.to_rfc3339()).unwrap_or_else(|| "-".into()),
        one.eligible_amount.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
    );
    Ok(())
}

fn step(title: &str) {
    println!("\n{title}");
}
