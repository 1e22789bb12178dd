//! Matching a request against a route's path template, the way API Gateway HTTP APIs do:
//! `{name}` takes one path segment, a trailing `{name+}` takes all the rest, and method `ANY`
//! accepts every method.

use std::collections::BTreeMap;

use crate::model::Route;

/// The catch-all route key of an HTTP API.
pub(crate) const DEFAULT_ROUTE: &str = "$default";

impl Route {
    /// The path parameters if this route serves `method path`, `None` otherwise.
    ///
    /// `path` may carry a query string, which is ignored. Parameter values are returned as they appear
    /// in the path (no percent-decoding). A `{proxy+}` segment needs at least one segment to match
    /// and yields the rest of the path joined with `/`.
    pub fn matches(&self, method: &str, path: &str) -> Option<BTreeMap<String, String>> {
        if self.method != "ANY" && !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        if self.path == DEFAULT_ROUTE {
            return Some(BTreeMap::new());
        }
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let pattern: Vec<&str> = segments(&self.path).collect();
        let actual: Vec<&str> = segments(path).collect();
        let mut params = BTreeMap::new();
        for (index, want) in pattern.iter().enumerate() {
            match Segment::of(want) {
                Segment::Greedy(name) => {
                    let rest = actual.get(index..).unwrap_or_default();
                    let is_last = index + 1 == pattern.len();
                    if !is_last || rest.iter().all(|s| s.is_empty()) {
                        return None;
                    }
                    params.insert(name.to_owned(), rest.join("/"));
                    return Some(params);
                }
                Segment::Param(name) => {
                    let got = actual.get(index).filter(|s| !s.is_empty())?;
                    params.insert(name.to_owned(), (*got).to_owned());
                }
                Segment::Literal(literal) => {
                    if actual.get(index) != Some(&literal) {
                        return None;
                    }
                }
            }
        }
        (actual.len() == pattern.len()).then_some(params)
    }

    /// How specific the route is; larger wins. See [`crate::Template::match_route`].
    pub(crate) fn specificity(&self) -> (bool, Vec<u8>, bool) {
        let is_default = self.path == DEFAULT_ROUTE;
        let ranks = if is_default {
            Vec::new()
        } else {
            segments(&self.path)
                .map(|s| match Segment::of(s) {
                    Segment::Literal(_) => 3,
                    Segment::Param(_) => 2,
                    Segment::Greedy(_) => 1,
                })
                .collect()
        };
        (!is_default, ranks, self.method != "ANY")
    }
}

enum Segment<'a> {
    Literal(&'a str),
    Param(&'a str),
    Greedy(&'a str),
}

impl<'a> Segment<'a> {
    fn of(segment: &'a str) -> Self {
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(inner) => match inner.strip_suffix('+') {
                Some(name) => Segment::Greedy(name),
                None => Segment::Param(inner),
            },
            None => Segment::Literal(segment),
        }
    }
}

fn segments(path: &str) -> std::str::Split<'_, char> {
    path.strip_prefix('/').unwrap_or(path).split('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Route {
        Route { event_name: "E".into(), method: method.into(), path: path.into(), auth: None }
    }

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn literal_paths_match_exactly() {
        let health = route("GET", "/v1/health");
        assert_eq!(health.matches("GET", "/v1/health"), Some(BTreeMap::new()));
        assert_eq!(health.matches("get", "/v1/health?deep=1"), Some(BTreeMap::new()));
        assert_eq!(health.matches("POST", "/v1/health"), None);
        assert_eq!(health.matches("GET", "/v1/health/x"), None);
        assert_eq!(health.matches("GET", "/v1/healthz"), None);
        assert_eq!(health.matches("GET", "/v1"), None);
    }

    #[test]
    fn named_segments_become_params() {
        let item = route("GET", "/v1/orgs/{org}/items/{id}");
        assert_eq!(item.matches("GET", "/v1/orgs/acme/items/42"), Some(params(&[("org", "acme"), ("id", "42")])));
        assert_eq!(item.matches("GET", "/v1/orgs/acme/items/"), None);
        assert_eq!(item.matches("GET", "/v1/orgs/acme/items"), None);
        assert_eq!(item.matches("GET", "/v1/orgs/acme/items/42/x"), None);
    }

    #[test]
    fn greedy_proxy_takes_the_rest() {
        let proxy = route("ANY", "/v1/files/{proxy+}");
        assert_eq!(proxy.matches("PUT", "/v1/files/a/b/c.txt"), Some(params(&[("proxy", "a/b/c.txt")])));
        assert_eq!(proxy.matches("DELETE", "/v1/files/a"), Some(params(&[("proxy", "a")])));
        assert_eq!(proxy.matches("GET", "/v1/files"), None);
        assert_eq!(proxy.matches("GET", "/v1/files/"), None);
        assert_eq!(proxy.matches("GET", "/v2/files/a"), None);
    }

    #[test]
    fn default_route_takes_everything() {
        let fallback = route("ANY", DEFAULT_ROUTE);
        assert_eq!(fallback.matches("PATCH", "/anything/at/all"), Some(BTreeMap::new()));
    }

    #[test]
    fn specificity_orders_like_api_gateway() {
        let literal = route("GET", "/v1/items/special").specificity();
        let param = route("GET", "/v1/items/{id}").specificity();
        let any_param = route("ANY", "/v1/items/{id}").specificity();
        let greedy = route("ANY", "/v1/{proxy+}").specificity();
        let fallback = route("ANY", DEFAULT_ROUTE).specificity();
        assert!(literal > param && param > any_param && any_param > greedy && greedy > fallback);
    }
}
