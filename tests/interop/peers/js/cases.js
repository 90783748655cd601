'use strict';
// The hessian.js value of every interop case in tests/interop/hessian2-cases.txt
// that hessian.js can express, built the way a Node Dubbo user would with
// js-to-java (the expected typed JSON lives only in the cases file). A case is
// a stream of one or more values written by one EncoderV2.

const java = require('js-to-java');

// text repeated n times
const rep = (text, n) => text.repeat(n);

// n bytes, byte i being i % 251 (the {{bytes N}} macro of the cases file)
function bytes(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

const addr = (street, city, zip) => java('com.example.Address', { street, city, zip });
const linkedList = (items) => ({ $class: 'java.util.LinkedList', $: items });
const k = (i, v) => java('com.example.K' + String(i).padStart(2, '0'), { v });

// name -> function returning the values of the stream (a fresh graph per call)
const cases = new Map();
const one = (name, build) => stream(name, () => [build()]);
function stream(name, build) {
  if (cases.has(name)) throw new Error('duplicate case ' + name);
  cases.set(name, build);
}

one('null', () => null);
one('true', () => true);
one('false', () => false);

for (const [name, v] of [
  ['int_0', 0], ['int_1', 1], ['int_m1', -1], ['int_m16', -16], ['int_m17', -17],
  ['int_47', 47], ['int_48', 48], ['int_m2048', -2048], ['int_m2049', -2049],
  ['int_2047', 2047], ['int_2048', 2048], ['int_m262144', -262144],
  ['int_m262145', -262145], ['int_262143', 262143], ['int_262144', 262144],
  ['int_min', -2147483648], ['int_max', 2147483647],
]) {
  one(name, () => v);
}
one('char_x', () => java.char('x'));

for (const [name, v] of [
  ['long_0', 0], ['long_m8', -8], ['long_m9', -9], ['long_15', 15], ['long_16', 16],
  ['long_m2048', -2048], ['long_m2049', -2049], ['long_2047', 2047], ['long_2048', 2048],
  ['long_m262144', -262144], ['long_m262145', -262145], ['long_262143', 262143],
  ['long_262144', 262144], ['long_int_min', -2147483648], ['long_int_max', 2147483647],
  ['long_int_min_m1', -2147483649], ['long_int_max_p1', 2147483648],
  // past 2^53: js-to-java takes longs as decimal strings
  ['long_2p53_p1', '9007199254740993'], ['long_m2p53_m1', '-9007199254740993'],
  ['long_min', '-9223372036854775808'], ['long_max', '9223372036854775807'],
]) {
  one(name, () => java.long(v));
}

for (const [name, v] of [
  ['double_0', 0], ['double_neg_0', -0], ['double_1', 1], ['double_m1', -1], ['double_2', 2],
  ['double_m128', -128], ['double_127', 127], ['double_128', 128], ['double_m129', -129],
  ['double_m32768', -32768], ['double_32767', 32767], ['double_32768', 32768],
  ['double_m32769', -32769], ['double_0_5', 0.5], ['double_12_25', 12.25],
  ['double_1_001', 1.001], ['double_m1_5', -1.5], ['double_0_1', 0.1], ['double_0_001', 0.001],
  ['double_3_14159', 3.14159], ['double_pi', Math.PI], ['double_mill_max', 2147483.647],
  ['double_mill_min', -2147483.648], ['double_mill_over', 2147483.648],
  ['double_2p31', 2147483648], ['double_1e10', 1e10], ['double_1e300', 1e300],
  ['double_1e_300', 1e-300], ['double_min', Number.MIN_VALUE], ['double_max', Number.MAX_VALUE],
  ['double_nan', NaN], ['double_inf', Infinity], ['double_neg_inf', -Infinity],
  ['double_0_1_plus_0_2', 0.1 + 0.2], ['double_third', 1 / 3], ['double_0_3', 0.3],
  ['double_4_35', 4.35], ['double_123456_789', 123456.789], ['double_1e15', 1e15],
  ['double_m1e_7', -1e-7],
]) {
  one(name, () => java.double(v));
}

for (const [name, v] of [
  ['str_empty', ''], ['str_a', 'a'], ['str_31', rep('a', 31)], ['str_32', rep('a', 32)],
  ['str_1023', rep('a', 1023)], ['str_1024', rep('a', 1024)], ['str_32767', rep('a', 32767)],
  ['str_32768', rep('a', 32768)], ['str_32769', rep('a', 32769)], ['str_65536', rep('a', 65536)],
  ['str_65537', rep('a', 65537)],
  ['str_surrogate_split', rep('a', 32767) + '\ud83d\ude00b'],
  ['str_surrogate_fits', rep('a', 32766) + '\ud83d\ude00'],
  ['str_surrogate_split2', rep('a', 65535) + '\ud83d\ude00'],
  ['str_latin', 'Gr\u00fc\u00dfe, caf\u00e9, na\u00efve, \u00c6r\u00f8sk\u00f8bing'],
  ['str_cjk', '\u4e2d\u6587\u5b57\u7b26\u4e32\u6d4b\u8bd5'],
  ['str_emoji', '\ud83d\ude00\ud83c\udf89\ud83d\udc4d'],
  ['str_nul', 'a\u0000b'], ['str_controls', '\t\n\r\b\f\u0001\u001f'], ['str_escapes', '"\\/\''],
  ['str_u0080', '\u0080'], ['str_u07ff', '\u07ff'], ['str_u0800', '\u0800'], ['str_uffff', '\uffff'],
  ['str_2byte_31', rep('\u00e9', 31)], ['str_2byte_32', rep('\u00e9', 32)],
  ['str_cjk_1024', rep('\u4e2d', 1024)], ['str_emoji_15_a', rep('\ud83d\ude00', 15) + 'a'],
  ['str_emoji_16', rep('\ud83d\ude00', 16)], ['str_cjk_32769', rep('\u4e2d', 32769)],
  ['str_lone_high', 'a\ud800b'], ['str_lone_low', '\udc00'], ['str_swapped_pair', '\ude00\ud83d'],
]) {
  one(name, () => v);
}

for (const [name, ms] of [
  ['date_epoch', 0], ['date_minute', 1700000040000], ['date_second', 1700000001000],
  ['date_ms', 1700000000123], ['date_neg_minute', -60000], ['date_neg_ms', -1],
  ['date_year_1', -62135596800000], ['date_year_9999', 253402300799999],
  ['date_minutes_int_max', 60000 * 2147483647], ['date_minutes_over', 60000 * 2147483648],
]) {
  one(name, () => new Date(ms));
}

for (const n of [0, 1, 15, 16, 1023, 1024, 4093, 4094, 8189, 8190, 40000]) {
  one('bin_' + n, () => bytes(n));
}
one('bin_in_list', () => [1, bytes(9000)]);
one('bin_two_in_list', () => [bytes(5000), bytes(5000)]);

one('arr_int_empty', () => java.array.int([]));
one('arr_int_3', () => java.array.int([1, -17, 2048]));
one('arr_int_8', () => java.array.int([0, 1, 2, 3, 4, 5, 6, 7]));
one('arr_long', () => java.array.long([1, -9, 4294967296]));
one('arr_double', () => java.array.double([0, 1.5, -2]));
one('arr_boolean', () => java.array.boolean([true, false, true]));
one('arr_short', () => java.array.short([1, -2, 300]));
// Java names String[] and Object[] "[string" and "[object"; js-to-java's
// java.array.String would say "[java.lang.String", so spell the type out
one('arr_string', () => ({ $class: '[string', $: ['a', null, 'c'] }));
one('arr_object', () => ({ $class: '[object', $: [1, 'two', null, java.long(3)] }));
one('arr_integer_boxed', () => java.array.Integer([1, null, 3]));
// java.array wraps each element itself: give it the bare fields
one('arr_address', () => java.array('com.example.Address', [{ street: 's', city: 'c', zip: 1 }, null]));
one('arr_int_2d', () => ({ $class: '[[int', $: [java.array.int([1]), java.array.int([2, 3])] }));
one('arr_two_int', () => [java.array.int([1]), java.array.int([2])]);

for (let n = 0; n <= 9; n++) {
  one('list_' + n, () => Array.from({ length: n }, (_, i) => i + 1));
}
one('list_mixed', () => [1, 'two', null, true, java.long(5), java.double(2.5), new Date(0)]);
one('list_nested', () => [[1, [2]], [], [[[]]]]);
one('list_linked', () => linkedList([1, 2]));
one('list_linked_empty', () => linkedList([]));
one('list_linked_9', () => linkedList([1, 2, 3, 4, 5, 6, 7, 8, 9]));
one('list_two_linked', () => [linkedList([1]), linkedList([2])]);
one('list_hashset', () => ({ $class: 'java.util.HashSet', $: ['a', 'b', 'c'] }));
one('list_treeset', () => ({ $class: 'java.util.TreeSet', $: [1, 2, 3] }));
one('list_vector', () => ({ $class: 'java.util.Vector', $: ['v'] }));
// (hessian.js has no way to write a variable-length list: no list_iterator)
one('list_deep_200', () => {
  let l = [];
  for (let i = 1; i < 200; i++) l = [l];
  return l;
});

// String-keyed HashMaps as plain objects (hessian.js sorts their keys); any
// other key type needs an ES6 Map, written in insertion order.
one('map_empty', () => ({}));
one('map_str', () => ({ a: 1, b: 'x', c: null }));
one('map_int_keys', () => new Map([[1, 'one'], [2, 'two']]));
one('map_long_keys', () => new Map([[java.long(1), 'a'], [java.long(2), 'b']]));
one('map_mixed_keys', () => new Map([['a', 1], [2, 'b'], [java.long(3), true]]));
one('map_str_and_int_key', () => new Map([['1', 's'], [1, 'i']]));
one('map_null_key', () => new Map([[null, 'v'], ['a', 1]]));
// keys starting with '$' would make a plain object look like a typed value
one('map_dollar_keys', () => new Map([['$class', 'x'], ['$', 1], ['$ref', 2]]));
one('map_object_key', () => new Map([[addr('k', 'c', 1), 'v']]));
one('map_list_key', () => new Map([[[1, 2], 'v']]));
one('map_nested', () => ({ a: { b: [1, { c: null }] } }));
one('map_values', () => ({
  a: Buffer.from([0, 1, 2]), b: new Date(1700000040000), c: java.double(0.5), d: java.long(-1),
  e: [], f: java.array.int([1]),
}));
one('map_20', () => {
  const m = {};
  for (let i = 0; i < 20; i++) m[String.fromCharCode(97 + i)] = i;
  return m;
});
one('map_hash_order', () => ({ name: 'Bob', age: 25, email: 'b@x.org' }));
one('map_treemap', () => ({ $class: 'java.util.TreeMap', $: { c: 3, a: 1, b: 2 } }));
one('map_treemap_empty', () => ({ $class: 'java.util.TreeMap', $: {} }));
one('map_treemap_int', () => ({ $class: 'java.util.TreeMap', $: new Map([[1, 'x'], [2, 'y']]) }));
one('map_linked', () => ({
  $class: 'java.util.LinkedHashMap', $: new Map([['z', 1], ['a', 2], ['m', 3]]),
}));
one('map_two_treemaps', () => [
  { $class: 'java.util.TreeMap', $: { a: 1 } }, { $class: 'java.util.TreeMap', $: { b: 2 } },
]);

// Objects: hessian.js writes the fields in the key order given, so they are
// given in the order Java's serializer uses (primitives and java.lang first).
one('obj_user', () => java('com.example.User', {
  id: 42, name: 'Alice', balance: java.long(10000000000), score: java.double(98.5), active: true,
  age: 30, visits: java.long(7), birthday: new Date(1700000040000), avatar: Buffer.from([1, 2, 3]),
  tags: ['a', 'b'], attrs: { x: 1 }, address: addr('1 Main St', 'Springfield', 12345),
}));
one('obj_user_nulls', () => java('com.example.User', {
  id: 0, name: null, balance: java.long(0), score: java.double(0), active: false, age: null,
  visits: null, birthday: null, avatar: null, tags: null, attrs: null, address: null,
}));
one('obj_address', () => addr('Main', 'Paris', 75001));
one('obj_empty', () => java('com.example.Empty', {}));
one('obj_enum', () => java.enum('com.example.Color', 'GREEN'));
one('obj_enum_list', () => [java.enum('com.example.Color', 'RED'), java.enum('com.example.Color', 'BLUE')]);
one('obj_mixed_order', () => java('com.example.Mixed', {
  count: 2, label: 'two', items: [1, 2], any: java.long(9),
}));
one('obj_employee', () => java('com.example.Employee', {
  company: 'ACME', salary: java.long(5000), name: 'Eve', age: 40,
  manager: java('com.example.Person', { name: 'Max', age: 50 }),
}));
one('obj_skips', () => java('com.example.Skips', { kept: 3 }));
one('obj_holder_long', () => java('com.example.Holder', { value: java.long(5) }));
one('obj_holder_list', () => java('com.example.Holder', { value: linkedList(['x']) }));
one('obj_holder_null', () => java('com.example.Holder', { value: null }));
one('obj_arrays', () => java('com.example.Arrays', {
  ints: java.array.int([1, 2]), longs: java.array.long([3]),
  names: { $class: '[string', $: ['n'] }, byId: new Map([[7, 'seven']]),
}));
one('obj_address_list', () => [addr('a', 'A', 1), addr('b', 'B', 2), addr('c', 'C', 3)]);
one('obj_two_classes', () => [
  addr('a', 'A', 1), java('com.example.Node', { value: 5, next: null }), addr('b', 'B', 2),
]);
one('obj_in_map', () => ({ u: addr('s', 'c', 0) }));
one('obj_17_classes', () => Array.from({ length: 17 }, (_, i) => k(i, i)));
one('obj_20_classes_reuse', () => [
  ...Array.from({ length: 20 }, (_, i) => k(i, i)), k(16, 100), k(19, 101), k(0, 102),
]);

one('ref_list_twice', () => {
  const x = [1, 2];
  return [x, x];
});
one('ref_map_twice', () => {
  const m = { a: 1 };
  return [m, m];
});
one('ref_obj_twice', () => {
  const a = addr('s', 'c', 1);
  return [a, a];
});
one('ref_int_array_twice', () => {
  const a = java.array.int([1]);
  return [a, a];
});
one('ref_list_self', () => {
  const l = [1];
  l.push(l);
  return l;
});
one('ref_map_self', () => {
  const m = {};
  m.self = m;
  return m;
});
one('ref_obj_self', () => {
  const n = java('com.example.Node', { value: 1, next: null });
  n.$.next = n;
  return n;
});
one('ref_obj_cycle', () => {
  const a = java('com.example.Node', { value: 1, next: null });
  const b = java('com.example.Node', { value: 2, next: a });
  a.$.next = b;
  return a;
});
one('ref_pair_shared', () => {
  const a = addr('s', 'c', 1);
  return java('com.example.Pair', { first: a, second: a });
});
one('ref_deep', () => {
  const outer = [];
  const inner = [];
  const mid = { k: inner };
  outer.push(mid);
  inner.push(outer, mid, inner);
  return outer;
});
one('ref_many', () => {
  const l = Array.from({ length: 50 }, () => []);
  l.push(l[0], l[46], l[47]);
  return l;
});

stream('stream_scalars', () => [1, 'two', java.long(3), null]);
stream('stream_two_objects', () => [addr('a', 'A', 1), addr('b', 'B', 2)]);
stream('stream_type_ref', () => [java.array.int([1]), java.array.int([2])]);
stream('stream_shared_ref', () => {
  const l = [1];
  return [l, l];
});

module.exports = { cases, rep, bytes };
