//! `sessions export`: every page with the client's prefetch, written as it arrives.
//!
//! With `--out FILE` the sessions go to `FILE.partial` beside it, renamed to `FILE` once
//! the last page is written: `FILE` is complete or untouched. On a failure (or Ctrl-C)
//! the partial file is kept under that name, which says it is not the export, and the
//! error says how many sessions it holds; the next successful run replaces it.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal as _, Write};
use std::path::{Path, PathBuf};

use futures_util::TryStreamExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use truemed_ext::Client;

use crate::cli::{ExportArgs, ExportFormat, OutputFormat};
use crate::fail::{code, exit_code, redact, Failure};
use crate::interrupt::Interrupt;
use crate::output::{session_row, RowWriter, SESSION_FIELDS, SESSION_TABLE};
use crate::sessions::listing;

/// The format of an export: `--format`, else `--out`'s extension, else the global
/// `--output` when it is csv or jsonl, else CSV.
fn format(args: &ExportArgs, output: Option<OutputFormat>) -> OutputFormat {
    let by_extension = args.out.as_deref().and_then(|path| {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" => Some(OutputFormat::Jsonl),
            "csv" => Some(OutputFormat::Csv),
            _ => None,
        }
    });
    match args.format {
        Some(ExportFormat::Csv) => OutputFormat::Csv,
        Some(ExportFormat::Jsonl) => OutputFormat::Jsonl,
        None => by_extension.unwrap_or(match output {
            Some(OutputFormat::Jsonl) => OutputFormat::Jsonl,
            _ => OutputFormat::Csv,
        }),
    }
}

/// Where an export writes while it runs: `FILE.partial`.
pub fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}

/// `sessions export`.
pub async fn export(
    client: &Client,
    output: Option<OutputFormat>,
    args: &ExportArgs,
    interrupt: &Interrupt,
) -> Result<(), Failure> {
    let format = format(args, output);
    let request = listing(client, &args.filters)?.page_size(args.page_size);
    let (sink, partial): (Box<dyn Write>, Option<PathBuf>) = match &args.out {
        Some(out) => {
            if out.file_name().is_none() || out.is_dir() {
                return Err(Failure::usage(format!("--out {}: not a file name", out.display())));
            }
            let partial = partial_path(out);
            let file =
                File::create(&partial).map_err(|e| Failure::file("cannot create", &partial, &e))?;
            (Box::new(file), Some(partial))
        }
        None => (Box::new(io::stdout().lock()), None),
    };
    let mut writer = RowWriter::new(
        format,
        BufWriter::with_capacity(256 * 1024, sink),
        &SESSION_FIELDS,
        SESSION_TABLE,
    );
    let progress = progress_bar();
    let mut pages = request.paginate().concurrency(usize::from(args.concurrency)).pages();
    let written_to = partial.as_deref().unwrap_or("stdout".as_ref()).to_owned();
    let stopped = |writer: &RowWriter<_>, why: String, code: u8| {
        let kept = match &partial {
            Some(partial) => format!(
                "; the {} sessions written are kept in {} ({} was not written)",
                writer.rows(),
                partial.display(),
                args.out.as_deref().unwrap_or(Path::new("")).display()
            ),
            None => format!("; {} sessions were written", writer.rows()),
        };
        Failure::new(code, format!("export stopped: {why}{kept}"))
    };
    loop {
        let next = tokio::select! {
            next = pages.try_next() => next,
            () = interrupt.wait() => {
                progress.finish_and_clear();
                let _ = writer.out().flush();
                return Err(stopped(&writer, "interrupted".to_owned(), code::INTERRUPTED));
            }
        };
        match next {
            Ok(Some(page)) => {
                if progress.length().is_none() {
                    if let Some(count) = page.total_count() {
                        progress.set_length(count);
                    }
                }
                let rows: Vec<_> = page.items.iter().map(session_row).collect();
                if let Err(e) = writer.write_all(&rows) {
                    progress.finish_and_clear();
                    return Err(Failure::file("cannot write to", &written_to, &e));
                }
                progress.inc(rows.len() as u64);
            }
            Ok(None) => break,
            Err(e) => {
                progress.finish_and_clear();
                let _ = writer.out().flush();
                let code = exit_code(&e);
                return Err(stopped(&writer, redact(&e.to_string()).into_owned(), code));
            }
        }
    }
    progress.finish_and_clear();
    let rows = writer.rows();
    let buffered =
        writer.finish().map_err(|e| Failure::file("cannot write to", &written_to, &e))?;
    let sink = buffered
        .into_inner()
        .map_err(|e| Failure::file("cannot write to", &written_to, e.error()))?;
    drop(sink);
    if let (Some(partial), Some(out)) = (&partial, &args.out) {
        // On disk before the rename, so that a crash never leaves a short FILE.
        File::open(partial)
            .and_then(|f| f.sync_all())
            .map_err(|e| Failure::file("cannot write to", partial, &e))?;
        std::fs::rename(partial, out).map_err(|e| Failure::file("cannot rename", partial, &e))?;
        if io::stderr().is_terminal() {
            eprintln!("exported {rows} sessions to {}", out.display());
        }
    }
    Ok(())
}

/// A progress bar on stderr when stderr is a terminal; hidden otherwise.
fn progress_bar() -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} {pos}/{len} sessions [{bar:30}] {percent}% {per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}
