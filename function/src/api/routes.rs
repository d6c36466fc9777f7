//! Routing: which route a request is for, independent of how it arrived.
//!
//! lambda_http puts the API Gateway stage into the path of REST events (unless
//! `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set), custom domains add their base path, and HTTP
//! APIs keep named stages in `rawPath`. The route is therefore rebuilt from what API Gateway
//! matched (the resource template and its path parameters, or the route key), and only falls
//! back to the raw path for Function URLs, ALB and `$default` routes.
//!
//! Which routes exist is the stage's choice ([`Routes`]): a route that is off is a 404, as if it
//! had never been built.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::config::Routes;
use crate::error::ApiError;

/// The API's routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /health`.
    Health,
    /// `POST /predictions` and its alias `POST /`.
    Predictions,
    /// `POST /resize`.
    Resize,
    /// `POST /invocations` (`model: None`) and `POST /models/{model}/invocations`.
    Invocations {
        /// The public model name of the per-model route.
        model: Option<String>,
    },
}

impl Route {
    /// Short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Health => "health",
            Self::Predictions => "predictions",
            Self::Resize => "resize",
            Self::Invocations { model: None } => "invocations",
            Self::Invocations { model: Some(_) } => "model_invocations",
        }
    }
}

/// Resolves method and routed path to a route the stage serves.
///
/// # Errors
/// [`ApiError::NotFound`] for unknown paths and routes that are off, [`ApiError::MethodNotAllowed`]
/// for a known path with another method.
pub fn resolve(method: &http::Method, path: &str, routes: &Routes) -> Result<Route, ApiError> {
    let not_found = || ApiError::NotFound {
        method: method.to_string(),
        path: truncate(path),
        served: routes.describe(),
    };
    let (route, allowed) = match path {
        "/" | "/predictions" if routes.predictions => (Route::Predictions, http::Method::POST),
        "/resize" if routes.resize => (Route::Resize, http::Method::POST),
        "/health" => (Route::Health, http::Method::GET),
        "/invocations" if routes.invocations => {
            (Route::Invocations { model: None }, http::Method::POST)
        }
        _ => match model_path(path) {
            Some(model) if routes.invocations => (
                Route::Invocations {
                    model: Some(model.to_owned()),
                },
                http::Method::POST,
            ),
            _ => return Err(not_found()),
        },
    };
    if *method == allowed || (allowed == http::Method::GET && *method == http::Method::HEAD) {
        Ok(route)
    } else {
        Err(ApiError::MethodNotAllowed {
            method: method.to_string(),
            path: path.to_owned(),
            allow: if allowed == http::Method::GET {
                "GET, HEAD"
            } else {
                "POST"
            },
        })
    }
}

/// `/models/{name}/invocations` → `name` (any single segment: the allow-list decides).
fn model_path(path: &str) -> Option<&str> {
    let name = path
        .strip_prefix("/models/")?
        .strip_suffix("/invocations")?;
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

/// The routed path of a request: stage, custom-domain base path and trailing slash removed.
pub fn route_path(req: &Request) -> String {
    let from_context = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx
            .resource_path
            .as_deref()
            .and_then(|template| expand_template(template, req)),
        Some(RequestContext::ApiGatewayV2(ctx)) => match ctx.route_key.as_deref() {
            Some(key) if key != "$default" => key
                .split_once(' ')
                .map(|(_, t)| t)
                .and_then(|template| expand_template(template, req)),
            _ => Some(strip_stage(raw_path(req), ctx.stage.as_deref()).to_owned()),
        },
        _ => None,
    };
    normalize(&from_context.unwrap_or_else(|| raw_path(req).to_owned()))
}

/// The path as the client sent it, before lambda_http added any stage.
fn raw_path(req: &Request) -> &str {
    match req.raw_http_path() {
        "" => req.uri().path(),
        p => p,
    }
}

/// Fills `{name}` and `{name+}` segments of an API Gateway template from the path parameters.
fn expand_template(template: &str, req: &Request) -> Option<String> {
    if !template.contains('{') {
        return Some(template.to_owned());
    }
    let params = req.path_parameters_ref()?;
    let segments: Option<Vec<&str>> = template
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => params.first(name.trim_end_matches('+')),
                None => Some(seg),
            },
        )
        .collect();
    segments.map(|s| s.join("/"))
}

/// `/dev/predictions` with stage `dev` → `/predictions` (HTTP API named stages).
fn strip_stage<'a>(path: &'a str, stage: Option<&str>) -> &'a str {
    match stage {
        Some(stage) if stage != "$default" => {
            match path.strip_prefix('/').and_then(|p| p.strip_prefix(stage)) {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
                _ => path,
            }
        }
        _ => path,
    }
}

/// Leading slash, no trailing slash, no repeated slashes.
fn normalize(path: &str) -> String {
    let joined: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", joined.join("/"))
}

/// Paths are echoed in 404 messages; keep them short.
fn truncate(path: &str) -> String {
    match path.char_indices().nth(100) {
        Some((i, _)) => format!("{}…", &path[..i]),
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn resolve(method: &Method, path: &str) -> Result<Route, ApiError> {
        super::resolve(method, path, &Routes::default())
    }

    #[test]
    fn known_routes_resolve() {
        assert_eq!(
            resolve(&Method::POST, "/predictions"),
            Ok(Route::Predictions)
        );
        assert_eq!(resolve(&Method::POST, "/"), Ok(Route::Predictions));
        assert_eq!(resolve(&Method::POST, "/resize"), Ok(Route::Resize));
        assert_eq!(resolve(&Method::GET, "/health"), Ok(Route::Health));
        assert_eq!(resolve(&Method::HEAD, "/health"), Ok(Route::Health));
        assert_eq!(
            resolve(&Method::POST, "/invocations"),
            Ok(Route::Invocations { model: None })
        );
        assert_eq!(
            resolve(&Method::POST, "/models/llama-3/invocations"),
            Ok(Route::Invocations {
                model: Some("llama-3".to_owned())
            })
        );
        assert!(matches!(
            resolve(&Method::POST, "/models//invocations"),
            Err(ApiError::NotFound { .. })
        ));
        assert!(matches!(
            resolve(&Method::POST, "/models/a/b/invocations"),
            Err(ApiError::NotFound { .. })
        ));
        assert!(matches!(
            resolve(&Method::GET, "/models/a/invocations"),
            Err(ApiError::MethodNotAllowed { allow: "POST", .. })
        ));
    }

    #[test]
    fn a_route_that_is_off_is_404_and_health_is_always_on() {
        let only_invocations = Routes {
            predictions: false,
            resize: false,
            invocations: true,
        };
        for path in ["/predictions", "/", "/resize"] {
            let err = super::resolve(&Method::POST, path, &only_invocations).unwrap_err();
            assert_eq!(err.code(), "not_found", "{path}");
            assert!(
                err.to_string().contains("GET /health, POST /invocations"),
                "{err}"
            );
        }
        assert_eq!(
            super::resolve(&Method::GET, "/health", &only_invocations),
            Ok(Route::Health)
        );
        let images_only = Routes {
            invocations: false,
            ..Routes::default()
        };
        for path in ["/invocations", "/models/a/invocations"] {
            assert!(matches!(
                super::resolve(&Method::POST, path, &images_only),
                Err(ApiError::NotFound { .. })
            ));
        }
    }

    #[test]
    fn wrong_method_is_405_and_unknown_path_is_404() {
        assert!(matches!(
            resolve(&Method::GET, "/predictions"),
            Err(ApiError::MethodNotAllowed { allow: "POST", .. })
        ));
        assert!(matches!(
            resolve(&Method::GET, "/resize"),
            Err(ApiError::MethodNotAllowed { allow: "POST", .. })
        ));
        assert!(matches!(
            resolve(&Method::POST, "/health"),
            Err(ApiError::MethodNotAllowed {
                allow: "GET, HEAD",
                ..
            })
        ));
        assert!(matches!(
            resolve(&Method::POST, "/predict"),
            Err(ApiError::NotFound { .. })
        ));
    }

    #[test]
    fn normalize_removes_extra_slashes() {
        assert_eq!(normalize(""), "/");
        assert_eq!(normalize("/predictions/"), "/predictions");
        assert_eq!(normalize("//a//b/"), "/a/b");
    }

    #[test]
    fn strip_stage_only_strips_a_whole_leading_segment() {
        assert_eq!(strip_stage("/dev/predictions", Some("dev")), "/predictions");
        assert_eq!(strip_stage("/dev", Some("dev")), "");
        assert_eq!(strip_stage("/devices", Some("dev")), "/devices");
        assert_eq!(strip_stage("/dev/x", Some("$default")), "/dev/x");
    }

    #[test]
    fn long_paths_are_truncated_in_messages() {
        let long = "/".to_owned() + &"a".repeat(500);
        let ApiError::NotFound { path, .. } = resolve(&Method::GET, &long).unwrap_err() else {
            panic!()
        };
        assert!(path.chars().count() <= 101);
    }
}
