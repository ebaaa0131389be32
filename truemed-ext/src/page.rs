//! One page of a listing: its filters, checked before sending, and the call that fetches
//! it. The `pagination` module builds whole listings on this.

use std::num::NonZeroU64;
use std::str::FromStr;

use chrono::NaiveDate;
use truemed_api::types::{Pagination, QualificationSession};
use truemed_api::{QualificationSessionStatus as Status, StatusList};

use crate::client::{Client, OnBodyRead};
use crate::error::Error;
use crate::operation::Operation;
use crate::refusal::{InvalidRequestReason, MAX_API_INTEGER};
use crate::retry::RetryPolicy;

/// The largest page number the API can have: its pages are `int64`
/// ([`ListRequest::MAX_PAGE`](crate::ListRequest::MAX_PAGE)).
pub(crate) const MAX_PAGE: u64 = MAX_API_INTEGER;

/// The query of a listing.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ListFilters {
    pub(crate) statuses: Vec<Status>,
    pub(crate) user_id: Option<String>,
    pub(crate) search: Option<String>,
    pub(crate) expires_at: Option<NaiveDate>,
    pub(crate) page: Option<u64>,
    pub(crate) page_size: Option<u64>,
}

/// A listing's client, filters and retry policy: what fetching any of its pages takes.
#[derive(Clone, Debug)]
pub(crate) struct Listing {
    pub(crate) client: Client,
    pub(crate) filters: ListFilters,
    pub(crate) retry: Option<RetryPolicy>,
}

impl Listing {
    /// Refuses filters the API cannot take, before anything is sent.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        self.filters.query().map(|_| ())
    }

    /// The first page the listing asks for (from 1).
    pub(crate) fn start(&self) -> u64 {
        self.filters.page.unwrap_or(1)
    }

    /// Fetches page `page`, with retries; `on_body_read` is called with each response's
    /// status once its body is read, before it is decoded.
    pub(crate) async fn fetch(
        &self,
        page: u64,
        on_body_read: Option<OnBodyRead>,
    ) -> Result<Page, Error> {
        let query = self.filters.query()?;
        let number = checked_page(page)?;
        let response = self
            .client
            .execute(Operation::List, self.retry.as_ref(), None, on_body_read, |raw| {
                let query = &query;
                async move {
                    let mut request = raw.list_qualification_sessions().page(number);
                    if let Some(status) = &query.status {
                        request = request.status(status.clone());
                    }
                    if let Some(size) = query.page_size {
                        request = request.page_size(size);
                    }
                    if let Some(user_id) = &self.filters.user_id {
                        request = request.user_id(user_id.clone());
                    }
                    if let Some(search) = &self.filters.search {
                        request = request.search(search.clone());
                    }
                    if let Some(date) = self.filters.expires_at {
                        request = request.expires_at(date);
                    }
                    request.send().await
                }
            })
            .await?;
        Ok(Page {
            number: page,
            items: response.qualification_sessions,
            pagination: response.pagination,
        })
    }
}

/// The query of one page, checked.
struct PageQuery {
    status: Option<StatusList>,
    page_size: Option<NonZeroU64>,
}

impl ListFilters {
    fn query(&self) -> Result<PageQuery, Error> {
        for (filter, value) in [("user_id", &self.user_id), ("search", &self.search)] {
            if value.as_ref().is_some_and(|text| text.trim().is_empty()) {
                return Err(InvalidRequestReason::BlankFilter { filter }.into());
            }
        }
        if let Some(page) = self.page {
            checked_page(page)?;
        }
        let page_size = match self.page_size {
            Some(page_size) => Some(
                api_integer(page_size)
                    .ok_or(InvalidRequestReason::PageSizeOutOfRange { page_size })?,
            ),
            None => None,
        };
        let status = match self.statuses.is_empty() {
            true => None,
            false => {
                let joined = self.statuses.iter().map(Status::as_str).collect::<Vec<_>>().join(",");
                // The spec's pattern (lowercase words joined by commas), checked by
                // `StatusList`; a comma inside one status would pass it as two.
                let one_word_each = self.statuses.iter().all(|s| !s.as_str().contains(','));
                match StatusList::from_str(&joined) {
                    Ok(status) if one_word_each => Some(status),
                    _ => {
                        return Err(
                            InvalidRequestReason::InvalidStatusFilter { filter: joined }.into()
                        )
                    }
                }
            }
        };
        Ok(PageQuery { status, page_size })
    }
}

/// `page` as the API takes it, or why it cannot have it: from 1 to [`MAX_PAGE`].
fn checked_page(page: u64) -> Result<NonZeroU64, Error> {
    api_integer(page).ok_or_else(|| InvalidRequestReason::PageOutOfRange { page }.into())
}

/// `value` as a page number or page size the API takes, from 1 to its largest integer
/// (`int64`): the one range check of both.
fn api_integer(value: u64) -> Option<NonZeroU64> {
    NonZeroU64::new(value).filter(|_| value <= MAX_API_INTEGER)
}

/// One page of a listing.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Page {
    /// The page number that was requested (from 1).
    pub number: u64,
    /// The sessions on this page, in `created_at` order.
    pub items: Vec<QualificationSession>,
    /// Where the page sits in the whole list, when the server said.
    pub pagination: Option<Pagination>,
}

impl Page {
    /// The last page's number, when the server said.
    pub fn last_page(&self) -> Option<u64> {
        self.pagination.as_ref().and_then(|p| p.last_page).and_then(|n| u64::try_from(n).ok())
    }

    /// How many sessions match on all pages, when the server said.
    pub fn total_count(&self) -> Option<u64> {
        self.pagination.as_ref().and_then(|p| p.count).and_then(|n| u64::try_from(n).ok())
    }
}
