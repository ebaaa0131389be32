//! `sessions get` and `sessions list`, and the filters every listing shares.

use std::io::{self, Write as _};

use futures_util::TryStreamExt as _;
use truemed_ext::{Client, ListRequest, Status};

use crate::cli::{Filters, ListArgs, OutputFormat};
use crate::fail::{redact, Failure};
use crate::output::{self, session_row, RowWriter, SESSION_FIELDS, SESSION_TABLE};

/// A listing with these filters. A status is one of the four the API documents
/// (comma-separated or repeated).
pub fn listing(client: &Client, filters: &Filters) -> Result<ListRequest, Failure> {
    let mut statuses = Vec::new();
    for text in filters.statuses.iter().flat_map(|s| s.split(',')) {
        let text = text.trim();
        let status = Status::KNOWN
            .into_iter()
            .find(|known| known.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                Failure::usage(format!(
                    "--status {:?}: expected pending, processing, approved or rejected",
                    redact(text)
                ))
            })?;
        if !statuses.contains(&status) {
            statuses.push(status);
        }
    }
    let mut request = client.qualification_sessions().list();
    if !statuses.is_empty() {
        request = request.statuses(statuses);
    }
    if let Some(user_id) = &filters.user_id {
        request = request.user_id(user_id);
    }
    if let Some(search) = &filters.search {
        request = request.search(search);
    }
    if let Some(date) = filters.expires_at {
        request = request.expires_at(date);
    }
    Ok(request)
}

/// `sessions get ID`.
pub async fn get(client: &Client, format: OutputFormat, id: &str) -> Result<(), Failure> {
    let session = client
        .qualification_sessions()
        .get(id)
        .await
        .map_err(|e| Failure::api(&format!("getting {}", redact(id)), &e))?;
    let row = session_row(&session);
    output::to_stdout(|out| match format {
        OutputFormat::Table => output::write_session_details(out, &row),
        OutputFormat::Json => serde_json::to_writer(&mut *out, &row)
            .map_err(io::Error::from)
            .and_then(|()| out.write_all(b"\n")),
        _ => output::write_one(format, out, &SESSION_FIELDS, SESSION_TABLE, &row),
    })
}

/// `sessions list`: one page, or every page with `--all`.
pub async fn list(client: &Client, format: OutputFormat, args: &ListArgs) -> Result<(), Failure> {
    let mut request = listing(client, &args.filters)?;
    if let Some(page) = args.page {
        request = request.page(page);
    }
    if let Some(size) = args.page_size {
        request = request.page_size(size);
    }
    let stdout = io::stdout().lock();
    let mut writer = RowWriter::new(format, stdout, &SESSION_FIELDS, SESSION_TABLE);
    let write_failed = |e: io::Error| Failure::file("cannot write to", "stdout".as_ref(), &e);
    let mut footer = None;
    if args.all {
        let mut paginator = request.paginate();
        if let Some(limit) = args.limit {
            paginator = paginator.limit(limit);
        }
        let mut pages = paginator.pages();
        loop {
            match pages.try_next().await {
                Ok(Some(page)) => {
                    let rows: Vec<_> = page.items.iter().map(session_row).collect();
                    writer.write_all(&rows).map_err(write_failed)?;
                }
                Ok(None) => break,
                Err(e) => {
                    let shown = writer.rows();
                    drop(writer.finish().map_err(write_failed)?);
                    return Err(Failure::api(
                        &format!("listing stopped after {shown} sessions"),
                        &e,
                    ));
                }
            }
        }
    } else {
        let page = request.send().await.map_err(|e| Failure::api("listing sessions", &e))?;
        let limit = args.limit.unwrap_or(usize::MAX);
        let rows: Vec<_> = page.items.iter().take(limit).map(session_row).collect();
        writer.write_all(&rows).map_err(write_failed)?;
        if let (Some(last), Some(count)) = (page.last_page(), page.total_count()) {
            footer = Some(match page.number < last {
                true => format!(
                    "page {} of {last}, {count} sessions in all: --page {} for the next, --all for every page",
                    page.number,
                    page.number + 1
                ),
                false => format!("page {} of {last}, {count} sessions in all", page.number),
            });
        }
    }
    if format == OutputFormat::Table {
        if writer.rows() == 0 {
            writeln!(writer.out(), "no sessions").map_err(write_failed)?;
        }
        if let Some(footer) = footer {
            writeln!(writer.out(), "{footer}").map_err(write_failed)?;
        }
    }
    drop(writer.finish().map_err(write_failed)?);
    Ok(())
}
