package config

// AuthPolicy identifies the caller (api_key, basic, jwt, oauth2 introspection).
type AuthPolicy struct{}

// ACLPolicy admits or refuses consumers by group.
type ACLPolicy struct{}

// Consumer is one caller known to aya, with its credentials and groups.
type Consumer struct {
	Line int `yaml:"-"`

	Name string `yaml:"name"`
}

// API groups routes under one name that consumers subscribe to.
type API struct {
	Line int `yaml:"-"`

	Name string `yaml:"name"`
}

// Subscription lets a consumer call an API.
type Subscription struct {
	Line int `yaml:"-"`
}

func (v *validator) authPolicy(cfg *Config, p *AuthPolicy, path, ctx string, line int) {}

func (v *validator) aclPolicy(cfg *Config, p *ACLPolicy, path, ctx string, line int) {}

// consumers validates consumers, apis and subscriptions.
func (v *validator) consumers(cfg *Config) {}
