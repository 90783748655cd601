// Package peer holds what the Go provider and consumer share: the two
// services, the com.example.User POJO with its canonical sample, and the
// field-by-field comparison (see tests/interop/matrix/PEERS.md).
package peer

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"time"
)

import (
	hessian "github.com/apache/dubbo-go-hessian2"
	"github.com/apache/dubbo-go-hessian2/java8_time"

	gxbig "github.com/dubbogo/gost/math/big"
)

// Color is com.example.Color (enum RED, GREEN, BLUE). hessian writes a Java
// enum as an object of that class with the single field "name".
type Color hessian.JavaEnum

const (
	RED Color = iota
	GREEN
	BLUE
)

var colorNames = []string{"RED", "GREEN", "BLUE"}

// JavaClassName names the Java enum.
func (Color) JavaClassName() string { return "com.example.Color" }

// String is the enum constant's name, as written on the wire.
func (c Color) String() string {
	if c >= 0 && int(c) < len(colorNames) {
		return colorNames[c]
	}
	return fmt.Sprintf("Color(%d)", int32(c))
}

// EnumValue maps a constant's name back to its value.
func (Color) EnumValue(name string) hessian.JavaEnum {
	for i, n := range colorNames {
		if n == name {
			return hessian.JavaEnum(i)
		}
	}
	return hessian.InvalidJavaEnum
}

// User is com.example.User; the hessian field names and their order are the
// Java class's. Nullable Java types are Go pointers (nil = null):
//   - BigDecimal, BigInteger: gost's gxbig.Decimal / gxbig.Integer, which
//     dubbo-go-hessian2 registers as java.math.BigDecimal / BigInteger
//   - LocalDate, LocalDateTime: dubbo-go-hessian2's java8_time types, which
//     travel as hessian-lite's LocalDateHandle / LocalDateTimeHandle objects
//   - Short, Byte, Float: *int16, *int8, *float32 (a hessian int, int, double)
//
// The hessian tags name the wire fields, but dubbo-go's generic
// (de)generalizer ignores them and uses the Go field name with its first
// letter lowered: a field "ID" would be "iD" in a generic map, hence "Id".
type User struct {
	Name      string                    `hessian:"name"`
	Age       int32                     `hessian:"age"`
	Id        int64                     `hessian:"id"` // not ID: see above
	Balance   *gxbig.Decimal            `hessian:"balance"`
	Big       *gxbig.Integer            `hessian:"big"`
	Born      *java8_time.LocalDate     `hessian:"born"`
	LastLogin *java8_time.LocalDateTime `hessian:"lastLogin"`
	Created   *time.Time                `hessian:"created"`
	Small     *int16                    `hessian:"small"`
	Tiny      *int8                     `hessian:"tiny"`
	Ratio     *float32                  `hessian:"ratio"`
	Color     *Color                    `hessian:"color"`
	Avatar    []byte                    `hessian:"avatar"`
	Friends   []*User                   `hessian:"friends"`
	ByName    map[string]*User          `hessian:"byName"`
	Manager   *User                     `hessian:"manager"`
	Nickname  *string                   `hessian:"nickname"`
}

// JavaClassName names the Java class.
func (User) JavaClassName() string { return "com.example.User" }

func init() {
	hessian.RegisterJavaEnum(GREEN)
	hessian.RegisterPOJO(&User{})
	registerObjectArg()
}

// SampleBalance and the other constants are the canonical sample's values.
const (
	SampleName    = "Ann Lee ✓"
	SampleBalance = "12345678901234567890.123456789"
	SampleBig     = "123456789012345678901234567890"
	SampleCreated = int64(1700000000123)
)

// SampleAvatar is the 17 bytes 0x00 0x01 ... 0x0f 0xff.
func SampleAvatar() []byte {
	b := make([]byte, 0, 17)
	for i := 0; i < 16; i++ {
		b = append(b, byte(i))
	}
	return append(b, 0xff)
}

// MustDecimal parses a decimal string into dubbo-go-hessian2's BigDecimal.
func MustDecimal(s string) *gxbig.Decimal {
	d := new(gxbig.Decimal)
	if err := d.FromString(s); err != nil {
		panic(err)
	}
	return d
}

// MustInteger parses a decimal string into dubbo-go-hessian2's BigInteger.
func MustInteger(s string) *gxbig.Integer {
	i := new(gxbig.Integer)
	if err := i.FromString(s); err != nil {
		panic(err)
	}
	return i
}

func plain(name string, age int32) *User { return &User{Name: name, Age: age} }

// Sample builds a fresh copy of the canonical sample User.
func Sample() *User {
	small := int16(12345)
	tiny := int8(-7)
	ratio := float32(0.5)
	color := GREEN
	created := time.UnixMilli(SampleCreated)
	return &User{
		Name:    SampleName,
		Age:     42,
		Id:      9007199254740993,
		Balance: MustDecimal(SampleBalance),
		Big:     MustInteger(SampleBig),
		Born:    &java8_time.LocalDate{Year: 1984, Month: 2, Day: 29},
		LastLogin: &java8_time.LocalDateTime{
			Date: java8_time.LocalDate{Year: 2026, Month: 12, Day: 5},
			Time: java8_time.LocalTime{Hour: 23, Minute: 59, Second: 58, Nano: 123456789},
		},
		Created: &created,
		Small:   &small,
		Tiny:    &tiny,
		Ratio:   &ratio,
		Color:   &color,
		Avatar:  SampleAvatar(),
		Friends: []*User{plain("Bob", 7), plain("Cy", 8)},
		ByName:  map[string]*User{"bob": plain("Bob", 7)},
		Manager: plain("Mgr", 60),
	}
}

// Diff compares got with want field by field and returns "" when they are
// equal, else a one-line text naming the first differing field and both
// values.
func Diff(got, want *User) string {
	return diffUser("", got, want)
}

func diffUser(path string, got, want *User) string {
	if got == nil || want == nil {
		if got == nil && want == nil {
			return ""
		}
		return fmt.Sprintf("%s: got %s, want %s", orRoot(path), userShort(got), userShort(want))
	}
	f := func(name string) string { return join(path, name) }
	type check struct {
		name      string
		got, want string
	}
	checks := []check{
		{"name", quote(&got.Name), quote(&want.Name)},
		{"age", fmt.Sprint(got.Age), fmt.Sprint(want.Age)},
		{"id", fmt.Sprint(got.Id), fmt.Sprint(want.Id)},
		{"balance", decimalText(got.Balance), decimalText(want.Balance)},
		{"big", integerText(got.Big), integerText(want.Big)},
		{"born", localDateText(got.Born), localDateText(want.Born)},
		{"lastLogin", localDateTimeText(got.LastLogin), localDateTimeText(want.LastLogin)},
		{"created", dateText(got.Created), dateText(want.Created)},
		{"small", ptrText(got.Small), ptrText(want.Small)},
		{"tiny", ptrText(got.Tiny), ptrText(want.Tiny)},
		{"ratio", ptrText(got.Ratio), ptrText(want.Ratio)},
		{"color", colorText(got.Color), colorText(want.Color)},
		{"avatar", bytesText(got.Avatar), bytesText(want.Avatar)},
	}
	for _, c := range checks {
		if c.got != c.want {
			return fmt.Sprintf("%s: got %s, want %s", f(c.name), c.got, c.want)
		}
	}
	// friends: null and an empty list differ in Java, so they do here
	if (got.Friends == nil) != (want.Friends == nil) || len(got.Friends) != len(want.Friends) {
		return fmt.Sprintf("%s: got %s, want %s", f("friends"), listShort(got.Friends), listShort(want.Friends))
	}
	for i := range want.Friends {
		if d := diffUser(fmt.Sprintf("%s[%d]", f("friends"), i), got.Friends[i], want.Friends[i]); d != "" {
			return d
		}
	}
	if (got.ByName == nil) != (want.ByName == nil) || !sameKeys(got.ByName, want.ByName) {
		return fmt.Sprintf("%s: got %s, want %s", f("byName"), mapShort(got.ByName), mapShort(want.ByName))
	}
	for _, k := range sortedKeys(want.ByName) {
		if d := diffUser(fmt.Sprintf("%s[%q]", f("byName"), k), got.ByName[k], want.ByName[k]); d != "" {
			return d
		}
	}
	if d := diffUser(f("manager"), got.Manager, want.Manager); d != "" {
		return d
	}
	if g, w := quote(got.Nickname), quote(want.Nickname); g != w {
		return fmt.Sprintf("%s: got %s, want %s", f("nickname"), g, w)
	}
	return ""
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func orRoot(path string) string {
	if path == "" {
		return "user"
	}
	return path
}

func quote(s *string) string {
	if s == nil {
		return "null"
	}
	return fmt.Sprintf("%q", *s)
}

func userShort(u *User) string {
	if u == nil {
		return "null"
	}
	return fmt.Sprintf("User{name %q, age %d}", u.Name, u.Age)
}

func listShort(l []*User) string {
	if l == nil {
		return "null"
	}
	s := "["
	for i, u := range l {
		if i > 0 {
			s += ", "
		}
		s += userShort(u)
	}
	return s + "]"
}

func mapShort(m map[string]*User) string {
	if m == nil {
		return "null"
	}
	s := "{"
	for i, k := range sortedKeys(m) {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q: %s", k, userShort(m[k]))
	}
	return s + "}"
}

func sortedKeys(m map[string]*User) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sameKeys(a, b map[string]*User) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

func decimalText(d *gxbig.Decimal) string {
	if d == nil {
		return "null"
	}
	return "BigDecimal(" + d.String() + ")"
}

func integerText(i *gxbig.Integer) string {
	if i == nil {
		return "null"
	}
	return "BigInteger(" + i.String() + ")"
}

func localDateText(d *java8_time.LocalDate) string {
	if d == nil {
		return "null"
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

func localDateTimeText(d *java8_time.LocalDateTime) string {
	if d == nil {
		return "null"
	}
	t := d.Time
	return fmt.Sprintf("%sT%02d:%02d:%02d.%09d", localDateText(&d.Date), t.Hour, t.Minute, t.Second, t.Nano)
}

func dateText(t *time.Time) string {
	if t == nil {
		return "null"
	}
	return fmt.Sprintf("Date(%d)", t.UnixMilli())
}

func ptrText(p any) string {
	v := reflect.ValueOf(p)
	if !v.IsValid() || v.IsNil() {
		return "null"
	}
	return fmt.Sprintf("%v", v.Elem().Interface())
}

func colorText(c *Color) string {
	if c == nil {
		return "null"
	}
	return c.String()
}

func bytesText(b []byte) string {
	if b == nil {
		return "null"
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%d bytes ", len(b))
	for i, x := range b {
		if i == 24 {
			buf.WriteString("...")
			break
		}
		fmt.Fprintf(&buf, "%02x", x)
	}
	return buf.String()
}
