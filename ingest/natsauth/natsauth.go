// Package natsauth holds the credentials of the embedded NATS server: an
// nkey user per role, so that no client on the host connects without one.
//
//   - publisher: may publish events (<prefix>.>) and read stream info: for
//     a second ingester, or replay, feeding the same server.
//   - consumer: may read everything (subscribe to <prefix>.>, create and
//     use its own JetStream consumers, read streams, KV buckets and object
//     stores) and publish nothing but an RTMS claim: for CTI and media
//     adapters, and tail.
//   - the ingester's own in-process connection: a key made at every start
//     and never written down.
//
// The role seeds live in a directory of their own, mode 0700, one file a
// role (<role>.nk, mode 0600), made on first start and reused after.
package natsauth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/zccingest/zccingest/events"
)

// Roles of outside clients.
const (
	Publisher = "publisher"
	Consumer  = "consumer"
)

// Roles lists the roles that have seed files.
var Roles = []string{Publisher, Consumer}

// Credentials are the embedded server's users.
type Credentials struct {
	Dir      string
	users    []*server.NkeyUser
	internal nkeys.KeyPair
}

// SeedFile is where a role's seed is kept in dir.
func SeedFile(dir, role string) string { return filepath.Join(dir, role+".nk") }

// Ensure loads the role seeds from dir, making dir and any missing seed
// first. A seed file that others may read is refused: it is a password.
func Ensure(dir, subjectPrefix string) (*Credentials, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("natsauth: credentials directory: %w", err)
	}
	c := &Credentials{Dir: dir}
	perms := map[string]*server.Permissions{
		Publisher: publisherPermissions(subjectPrefix),
		Consumer:  consumerPermissions(subjectPrefix),
	}
	for _, role := range Roles {
		kp, err := loadOrCreate(SeedFile(dir, role))
		if err != nil {
			return nil, err
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("natsauth: %s: %w", role, err)
		}
		kp.Wipe()
		c.users = append(c.users, &server.NkeyUser{Nkey: pub, Permissions: perms[role]})
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("natsauth: in-process key: %w", err)
	}
	pub, _ := kp.PublicKey()
	c.internal = kp
	c.users = append(c.users, &server.NkeyUser{Nkey: pub}) // no limits: the ingester itself
	return c, nil
}

func loadOrCreate(path string) (nkeys.KeyPair, error) {
	seed, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return nil, fmt.Errorf("natsauth: %w", err)
		}
		seed, _ = kp.Seed()
		// Written beside, then linked into place: a crash never leaves
		// an empty seed file that every later start would refuse, and
		// Link fails rather than replace a seed another process made.
		f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
		if err != nil {
			return nil, fmt.Errorf("natsauth: writing %s: %w", path, err)
		}
		defer os.Remove(f.Name())
		_, werr := f.Write(append(seed, '\n'))
		serr := f.Sync()
		if err := errors.Join(werr, serr, f.Close(), os.Link(f.Name(), path)); err != nil {
			return nil, fmt.Errorf("natsauth: writing %s: %w", path, err)
		}
		return kp, nil
	}
	if err != nil {
		return nil, fmt.Errorf("natsauth: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("natsauth: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("natsauth: %s has mode %#o: a seed is a password; chmod 600 it", path, st.Mode().Perm())
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(seed))))
	if err != nil {
		return nil, fmt.Errorf("natsauth: %s holds no user seed", path)
	}
	return kp, nil
}

// Users are the server's users: server.Options.Nkeys.
func (c *Credentials) Users() []*server.NkeyUser { return c.users }

// Internal authenticates the ingester's own in-process connection.
func (c *Credentials) Internal() nats.Option {
	pub, _ := c.internal.PublicKey()
	return nats.Nkey(pub, c.internal.Sign)
}

// ClientOption authenticates an outside client with a role's seed file.
func ClientOption(seedFile string) (nats.Option, error) {
	o, err := nats.NkeyOptionFromSeed(seedFile)
	if err != nil {
		return nil, fmt.Errorf("natsauth: %s: %w", seedFile, err)
	}
	return o, nil
}

// jsRead is what reading JetStream takes: stream and account info, stream
// names, direct and stored message gets, consumers of its own (create,
// info, next, delete), acks and flow control. It covers the event stream,
// the KV buckets and the object stores alike.
var jsRead = []string{
	"$JS.API.INFO",
	"$JS.API.STREAM.INFO.*",
	"$JS.API.STREAM.NAMES",
	"$JS.API.STREAM.LIST",
	"$JS.API.STREAM.MSG.GET.*",
	"$JS.API.DIRECT.GET.>",
	"$JS.API.CONSUMER.>",
	"$JS.ACK.>",
	"$JS.FC.>",
}

// consumerPermissions read everything and write one thing: an RTMS claim
// (a KV create-if-absent in events.RTMSClaimBucket, and the holder's
// delete when the stream stops).
func consumerPermissions(prefix string) *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: append(slices.Clip(jsRead), "$KV."+events.RTMSClaimBucket+".>")},
		Subscribe: &server.SubjectPermission{Allow: []string{prefix + ".>", "_INBOX.>"}},
	}
}

func publisherPermissions(prefix string) *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			prefix + ".>", "$JS.API.INFO", "$JS.API.STREAM.INFO.*", "$JS.API.STREAM.NAMES",
		}},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
}
