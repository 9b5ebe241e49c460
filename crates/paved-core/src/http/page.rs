//! `Link` pagination: following `rel="next"` pages with a page cap, on the first request's
//! origin only.

use std::ops::ControlFlow;

use serde::de::DeserializeOwned;

use super::error::HttpError;
use super::request::RequestBuilder;
use super::response::Response;
use super::url::{resolve_url, same_origin};
use crate::redact::redact_url;

/// What [`RequestBuilder::for_each_page`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pages {
    /// Pages fetched.
    pub pages: usize,
    /// Whether the page cap stopped the walk while a next page existed.
    pub truncated: bool,
}

/// Items collected by [`RequestBuilder::paginate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    /// Every item of every page read.
    pub items: Vec<T>,
    /// Whether the page cap left pages unread.
    pub truncated: bool,
}

impl RequestBuilder<'_> {
    /// Follow `Link: rel="next"` pages, at most `max_pages` of them, calling `page` with each
    /// response until it returns `ControlFlow::Break` or there is no next page.
    pub fn for_each_page<E: From<HttpError>>(
        &self,
        max_pages: usize,
        mut page: impl FnMut(Response) -> Result<ControlFlow<()>, E>,
    ) -> Result<Pages, E> {
        let mut request = self.clone();
        let mut pages = 0;
        loop {
            let response = request.send()?;
            pages += 1;
            let next = response.next_link();
            if page(response)?.is_break() {
                return Ok(Pages {
                    pages,
                    truncated: false,
                });
            }
            let Some(next) = next else {
                return Ok(Pages {
                    pages,
                    truncated: false,
                });
            };
            if pages >= max_pages {
                return Ok(Pages {
                    pages,
                    truncated: true,
                });
            }
            let next = resolve_url(&request.url, &next);
            // Credentials go only to the origin of the first request, so a walk never leaves it.
            if !same_origin(&self.url, &next) {
                return Err(HttpError::ForeignLink {
                    method: self.method,
                    url: redact_url(&self.url),
                    next: redact_url(&next),
                }
                .into());
            }
            request.url = next;
        }
    }

    /// Collect every item of a paginated JSON-array endpoint, following at most `max_pages`
    /// pages. [`Paged::truncated`] says whether more pages were left unread.
    pub fn paginate<T: DeserializeOwned>(&self, max_pages: usize) -> Result<Paged<T>, HttpError> {
        let mut items = Vec::new();
        let pages = self.for_each_page(max_pages, |response| {
            items.extend(response.json::<Vec<T>>()?);
            Ok::<_, HttpError>(ControlFlow::Continue(()))
        })?;
        Ok(Paged {
            items,
            truncated: pages.truncated,
        })
    }
}
