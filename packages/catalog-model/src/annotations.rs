//! The well-known annotation keys of the catalog (spec §7.1) and the status item type the catalog reports processing errors under.
//!
//! Keys are plain string constants so that callers can use them in `match` arms
//! and map lookups without allocating.

/// Location ref of the exact file or source the entity was read from; overwritten on every read.
pub const ANNOTATION_MANAGED_BY_LOCATION: &str = "backstage.io/managed-by-location";
/// Location ref of the registered location whose processing produced the entity.
pub const ANNOTATION_MANAGED_BY_ORIGIN_LOCATION: &str = "backstage.io/managed-by-origin-location";
/// Set to exactly `"true"` on entities that no parent emits any more.
pub const ANNOTATION_ORPHAN: &str = "backstage.io/orphan";
/// Link to the canonical descriptor file.
pub const ANNOTATION_VIEW_URL: &str = "backstage.io/view-url";
/// Link to edit the source of the descriptor.
pub const ANNOTATION_EDIT_URL: &str = "backstage.io/edit-url";
/// Location ref of the entity's source code.
pub const ANNOTATION_SOURCE_LOCATION: &str = "backstage.io/source-location";
/// Where the entity's TechDocs sources live (`dir:<path>` or `url:<absolute>`).
pub const ANNOTATION_TECHDOCS_REF: &str = "backstage.io/techdocs-ref";
/// Ref of another entity whose TechDocs should be shown.
pub const ANNOTATION_TECHDOCS_ENTITY: &str = "backstage.io/techdocs-entity";
/// Ref of the Template that created the entity.
pub const ANNOTATION_SOURCE_TEMPLATE: &str = "backstage.io/source-template";
/// ISO-8601 duration saved by running a Template, e.g. `PT4H`.
pub const ANNOTATION_TIME_SAVED: &str = "backstage.io/time-saved";
/// Code coverage mode: `scm-only` or `enabled`.
pub const ANNOTATION_CODE_COVERAGE: &str = "backstage.io/code-coverage";
/// Raw LDAP relative distinguished name.
pub const ANNOTATION_LDAP_RDN: &str = "backstage.io/ldap-rdn";
/// Raw LDAP UUID.
pub const ANNOTATION_LDAP_UUID: &str = "backstage.io/ldap-uuid";
/// Raw LDAP distinguished name.
pub const ANNOTATION_LDAP_DN: &str = "backstage.io/ldap-dn";
/// Microsoft Graph tenant id.
pub const ANNOTATION_MSGRAPH_TENANT_ID: &str = "graph.microsoft.com/tenant-id";
/// Microsoft Graph group id.
pub const ANNOTATION_MSGRAPH_GROUP_ID: &str = "graph.microsoft.com/group-id";
/// Microsoft Graph user id.
pub const ANNOTATION_MSGRAPH_USER_ID: &str = "graph.microsoft.com/user-id";
/// GitHub `<org>/<repo>`.
pub const ANNOTATION_GITHUB_PROJECT_SLUG: &str = "github.com/project-slug";
/// GitHub `<org>/<team>` on Groups.
pub const ANNOTATION_GITHUB_TEAM_SLUG: &str = "github.com/team-slug";
/// GitHub login on Users.
pub const ANNOTATION_GITHUB_USER_LOGIN: &str = "github.com/user-login";
/// GitLab `<group>/<project>`.
pub const ANNOTATION_GITLAB_PROJECT_SLUG: &str = "gitlab.com/project-slug";
/// Jenkins `<folder/job>` or `<instance>:<folder/job>`.
pub const ANNOTATION_JENKINS_JOB_FULL_NAME: &str = "jenkins.io/job-full-name";
/// Comma-separated GoCD pipeline names.
pub const ANNOTATION_GOCD_PIPELINES: &str = "gocd.org/pipelines";
/// Periskop service name.
pub const ANNOTATION_PERISKOP_SERVICE_NAME: &str = "periskop.io/service-name";
/// Sentry project slug or id.
pub const ANNOTATION_SENTRY_PROJECT_SLUG: &str = "sentry.io/project-slug";
/// Rollbar `<org>/<project>` or `<project>`.
pub const ANNOTATION_ROLLBAR_PROJECT_SLUG: &str = "rollbar.com/project-slug";
/// CircleCI `<scm>/<org>/<project>` or `<org>/<project>`.
pub const ANNOTATION_CIRCLECI_PROJECT_SLUG: &str = "circleci.com/project-slug";
/// SonarQube project key.
pub const ANNOTATION_SONARQUBE_PROJECT_KEY: &str = "sonarqube.org/project-key";
/// Vault path of the entity's secrets.
pub const ANNOTATION_VAULT_SECRETS_PATH: &str = "vault.io/secrets-path";
/// Kubernetes API server URL of a cluster.
pub const ANNOTATION_KUBERNETES_API_SERVER: &str = "kubernetes.io/api-server";
/// Kubernetes API server certificate authority.
pub const ANNOTATION_KUBERNETES_API_SERVER_CA: &str =
    "kubernetes.io/api-server-certificate-authority";
/// Kubernetes auth provider name.
pub const ANNOTATION_KUBERNETES_AUTH_PROVIDER: &str = "kubernetes.io/auth-provider";
/// Kubernetes OIDC token provider name.
pub const ANNOTATION_KUBERNETES_OIDC_TOKEN_PROVIDER: &str = "kubernetes.io/oidc-token-provider";
/// Whether the Kubernetes plugin skips the metrics lookup.
pub const ANNOTATION_KUBERNETES_SKIP_METRICS_LOOKUP: &str = "kubernetes.io/skip-metrics-lookup";
/// Deprecated: replaced by [`ANNOTATION_GITHUB_PROJECT_SLUG`].
pub const ANNOTATION_GITHUB_ACTIONS_ID: &str = "backstage.io/github-actions-id";
/// Deprecated: replaced by `$text` placeholder substitution.
pub const ANNOTATION_DEFINITION_AT_LOCATION: &str = "backstage.io/definition-at-location";
/// Deprecated: replaced by [`ANNOTATION_JENKINS_JOB_FULL_NAME`].
pub const ANNOTATION_JENKINS_GITHUB_FOLDER: &str = "jenkins.io/github-folder";

/// The `status.items[].type` under which catalog processing errors are reported.
pub const STATUS_TYPE_CATALOG_PROCESSING: &str = "backstage.io/catalog-processing";

/// Every key above except the status type, for tools that list or lint annotations.
pub const WELL_KNOWN_ANNOTATIONS: &[&str] = &[
    ANNOTATION_MANAGED_BY_LOCATION,
    ANNOTATION_MANAGED_BY_ORIGIN_LOCATION,
    ANNOTATION_ORPHAN,
    ANNOTATION_VIEW_URL,
    ANNOTATION_EDIT_URL,
    ANNOTATION_SOURCE_LOCATION,
    ANNOTATION_TECHDOCS_REF,
    ANNOTATION_TECHDOCS_ENTITY,
    ANNOTATION_SOURCE_TEMPLATE,
    ANNOTATION_TIME_SAVED,
    ANNOTATION_CODE_COVERAGE,
    ANNOTATION_LDAP_RDN,
    ANNOTATION_LDAP_UUID,
    ANNOTATION_LDAP_DN,
    ANNOTATION_MSGRAPH_TENANT_ID,
    ANNOTATION_MSGRAPH_GROUP_ID,
    ANNOTATION_MSGRAPH_USER_ID,
    ANNOTATION_GITHUB_PROJECT_SLUG,
    ANNOTATION_GITHUB_TEAM_SLUG,
    ANNOTATION_GITHUB_USER_LOGIN,
    ANNOTATION_GITLAB_PROJECT_SLUG,
    ANNOTATION_JENKINS_JOB_FULL_NAME,
    ANNOTATION_GOCD_PIPELINES,
    ANNOTATION_PERISKOP_SERVICE_NAME,
    ANNOTATION_SENTRY_PROJECT_SLUG,
    ANNOTATION_ROLLBAR_PROJECT_SLUG,
    ANNOTATION_CIRCLECI_PROJECT_SLUG,
    ANNOTATION_SONARQUBE_PROJECT_KEY,
    ANNOTATION_VAULT_SECRETS_PATH,
    ANNOTATION_KUBERNETES_API_SERVER,
    ANNOTATION_KUBERNETES_API_SERVER_CA,
    ANNOTATION_KUBERNETES_AUTH_PROVIDER,
    ANNOTATION_KUBERNETES_OIDC_TOKEN_PROVIDER,
    ANNOTATION_KUBERNETES_SKIP_METRICS_LOOKUP,
    ANNOTATION_GITHUB_ACTIONS_ID,
    ANNOTATION_DEFINITION_AT_LOCATION,
    ANNOTATION_JENKINS_GITHUB_FOLDER,
];

/// The deprecated keys among [`WELL_KNOWN_ANNOTATIONS`].
pub const DEPRECATED_ANNOTATIONS: &[&str] = &[
    ANNOTATION_GITHUB_ACTIONS_ID,
    ANNOTATION_DEFINITION_AT_LOCATION,
    ANNOTATION_JENKINS_GITHUB_FOLDER,
];
