package gateway

import (
	"errors"
	"log/slog"
	"net/http"

	"aya/internal/config"
	"aya/internal/policy"
)

// authState keeps consumers and subscriptions added through the admin API across reloads.
type authState struct{}

func (a *authState) init(log *slog.Logger) {}
func (a *authState) close()                {}

func (b *policyBuild) auth(c *config.AuthPolicy) (policy.Middleware, error) {
	return nil, errors.New("auth is not built yet")
}

func (b *policyBuild) acl(c *config.ACLPolicy) (policy.Middleware, error) {
	return nil, errors.New("acl is not built yet")
}

// mountAuthAdmin adds the consumer and subscription endpoints to the admin API.
func (g *Gateway) mountAuthAdmin(mux *http.ServeMux, cfg config.Admin) {}
