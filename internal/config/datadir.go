package config

import "os"

// dataDir resolves data_dir and refuses one that exists as something other than a directory.
// A missing directory is fine: aya creates it.
func (v *validator) dataDir(cfg *Config) {
	if cfg.DataDir == "" {
		return
	}
	cfg.DataDir = v.resolvePath(cfg.DataDir)
	if fi, err := os.Stat(cfg.DataDir); err == nil && !fi.IsDir() {
		v.errAt("data_dir", 1, "data_dir %q is a file, not a directory: name a directory aya may create and write", cfg.DataDir)
	}
}
