// Package store is aya's durable single-node state: what must survive a restart (keys created
// through the admin API, spent budgets, consumers, subscriptions) in one bbolt file under the
// data directory. Values are JSON, so the file stays readable with any bbolt tool.
//
// It knows nothing of what it stores; the gateway names the buckets. In cluster mode the same
// state lives in Redis instead.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the database file inside the data directory.
const FileName = "aya.db"

// Store is an open database. Its methods are safe for concurrent use.
type Store struct {
	db *bolt.DB
}

// Open opens (creating when missing) the database in dir. A second aya on the same directory
// is refused with an error that says so, instead of waiting forever for the file lock.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("data_dir %s: %s is locked by another process (another aya using the same data_dir?): give each aya its own data_dir", dir, path)
	}
	if err != nil {
		return nil, fmt.Errorf("data_dir %s: open %s: %w", dir, path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Put stores v as JSON under bucket/key.
func (s *Store) Put(bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store %s/%s: %w", bucket, key, err)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), data)
	})
}

// PutAll stores every entry of m under bucket in one transaction (one disk sync).
func PutAll[V any](s *Store, bucket string, m map[string]V) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		for k, v := range m {
			data, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("store %s/%s: %w", bucket, k, err)
			}
			if err := b.Put([]byte(k), data); err != nil {
				return err
			}
		}
		return nil
	})
}

// Get decodes bucket/key into v; it reports false when there is no such value.
func (s *Store) Get(bucket, key string, v any) (bool, error) {
	var data []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(bucket)); b != nil {
			data = append(data, b.Get([]byte(key))...)
		}
		return nil
	})
	if err != nil || data == nil {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("store %s/%s: %w", bucket, key, err)
	}
	return true, nil
}

// Delete removes bucket/key; removing what is not there is not an error.
func (s *Store) Delete(bucket, key string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(bucket)); b != nil {
			return b.Delete([]byte(key))
		}
		return nil
	})
}

// List decodes every value of bucket, in key order, calling fn with each.
func List[V any](s *Store, bucket string, fn func(key string, v V)) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, data []byte) error {
			var v V
			if err := json.Unmarshal(data, &v); err != nil {
				return fmt.Errorf("store %s/%s: %w", bucket, k, err)
			}
			fn(string(k), v)
			return nil
		})
	})
}
