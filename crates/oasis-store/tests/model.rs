//! Model-based test: random sequences of saves, deletes, gets, queries (every
//! condition form, orders, skips, limits), transactions and reopenings, checked
//! against an in-memory model.

use std::collections::BTreeMap;

use oasis_store::mem::MemBlock;
use oasis_store::{Error, FieldQuery, Record, SortKey, Store};
use proptest::prelude::*;

#[derive(Record, Debug, Clone, PartialEq)]
struct Item {
    #[key]
    id: u16,
    #[index]
    score: i32,
    #[index]
    name: String,
    /// Not indexed: queries on it scan.
    level: u8,
    #[index(unique)]
    tag: u8,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Id,
    Score,
    Name,
    Tag,
    Level,
}

#[derive(Debug, Clone, PartialEq, PartialOrd, Eq, Ord)]
enum Val {
    Int(i64),
    Str(String),
}

impl Item {
    fn val(&self, f: Field) -> Val {
        match f {
            Field::Id => Val::Int(self.id.into()),
            Field::Score => Val::Int(self.score.into()),
            Field::Name => Val::Str(self.name.clone()),
            Field::Tag => Val::Int(self.tag.into()),
            Field::Level => Val::Int(self.level.into()),
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Eq(Val),
    Gt(Val),
    Ge(Val),
    Lt(Val),
    Le(Val),
    Between(Val, Val),
    Prefix(String),
}

#[derive(Debug, Clone)]
struct Cond(Field, Op);

impl Cond {
    fn holds(&self, item: &Item) -> bool {
        let v = item.val(self.0);
        match &self.1 {
            Op::Eq(a) => v == *a,
            Op::Gt(a) => v > *a,
            Op::Ge(a) => v >= *a,
            Op::Lt(a) => v < *a,
            Op::Le(a) => v <= *a,
            Op::Between(a, b) => *a <= v && v <= *b,
            Op::Prefix(p) => matches!(&v, Val::Str(s) if s.starts_with(p.as_str())),
        }
    }
}

#[derive(Debug, Clone)]
struct QuerySpec {
    conds: Vec<Cond>,
    order: Option<(Field, bool)>,
    skip: usize,
    limit: Option<usize>,
}

#[derive(Debug, Clone)]
enum Step {
    Save(Item),
    Delete(u16),
    Get(u16),
    Query(QuerySpec),
    /// Saves and deletes in one transaction, a query through the store
    /// (not the transaction) while it is open, then commit or abort.
    Tx(Vec<Item>, Vec<u16>, QuerySpec, bool),
    Reopen,
}

fn name() -> impl Strategy<Value = String> {
    // NUL and 0xff-leading characters exercise the index's escaping.
    "[ab\\x00\u{ff}]{0,3}"
}

fn item() -> impl Strategy<Value = Item> {
    (0u16..24, -6i32..6, name(), 0u8..30, 0u8..4).prop_map(|(id, score, name, tag, level)| Item {
        id,
        score,
        name,
        tag,
        level,
    })
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        Just(Field::Id),
        Just(Field::Score),
        Just(Field::Name),
        Just(Field::Tag),
        Just(Field::Level)
    ]
}

fn value(f: Field) -> BoxedStrategy<Val> {
    match f {
        Field::Id => (0i64..26).prop_map(Val::Int).boxed(),
        Field::Score => (-7i64..7).prop_map(Val::Int).boxed(),
        Field::Tag => (0i64..31).prop_map(Val::Int).boxed(),
        Field::Level => (0i64..5).prop_map(Val::Int).boxed(),
        Field::Name => name().prop_map(Val::Str).boxed(),
    }
}

fn cond() -> impl Strategy<Value = Cond> {
    field().prop_flat_map(|f| {
        let v = value(f);
        let ops = prop_oneof![
            v.clone().prop_map(Op::Eq),
            v.clone().prop_map(Op::Gt),
            v.clone().prop_map(Op::Ge),
            v.clone().prop_map(Op::Lt),
            v.clone().prop_map(Op::Le),
            (v.clone(), v).prop_map(|(a, b)| Op::Between(a, b)),
            name().prop_map(Op::Prefix),
        ];
        ops.prop_map(move |op| match op {
            Op::Prefix(p) => Cond(Field::Name, Op::Prefix(p)),
            op => Cond(f, op),
        })
    })
}

fn query() -> impl Strategy<Value = QuerySpec> {
    (
        proptest::collection::vec(cond(), 0..3),
        proptest::option::of((field(), any::<bool>())),
        0usize..4,
        proptest::option::of(0usize..5),
    )
        .prop_map(|(conds, order, skip, limit)| QuerySpec {
            conds,
            order,
            skip,
            limit,
        })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => item().prop_map(Step::Save),
        2 => (0u16..26).prop_map(Step::Delete),
        2 => (0u16..26).prop_map(Step::Get),
        5 => query().prop_map(Step::Query),
        1 => (
            proptest::collection::vec(item(), 0..4),
            proptest::collection::vec(0u16..26, 0..3),
            query(),
            any::<bool>()
        )
            .prop_map(|(s, d, q, c)| Step::Tx(s, d, q, c)),
        1 => Just(Step::Reopen),
    ]
}

fn open(disk: &MemBlock) -> Store {
    Store::builder()
        .record::<Item>()
        .open(disk.clone())
        .unwrap()
}

fn int<T: TryFrom<i64>>(v: &Val) -> T
where
    T::Error: std::fmt::Debug,
{
    match v {
        Val::Int(i) => T::try_from(*i).unwrap(),
        Val::Str(_) => unreachable!("int field"),
    }
}

fn apply_op<'q, T: SortKey>(
    fq: FieldQuery<'q, Item, T>,
    op: &Op,
    conv: impl Fn(&Val) -> T,
) -> ItemQuery<'q> {
    match op {
        Op::Eq(a) => fq.eq(conv(a)),
        Op::Gt(a) => fq.gt(conv(a)),
        Op::Ge(a) => fq.ge(conv(a)),
        Op::Lt(a) => fq.lt(conv(a)),
        Op::Le(a) => fq.le(conv(a)),
        Op::Between(a, b) => fq.between(conv(a), conv(b)),
        Op::Prefix(_) => unreachable!("prefix is on name"),
    }
}

fn build<'q>(mut q: ItemQuery<'q>, spec: &QuerySpec) -> ItemQuery<'q> {
    for Cond(f, op) in &spec.conds {
        q = match (f, op) {
            (Field::Name, Op::Prefix(p)) => q.name().prefix(p.as_str()),
            (Field::Id, op) => apply_op(q.id(), op, int::<u16>),
            (Field::Score, op) => apply_op(q.score(), op, int::<i32>),
            (Field::Tag, op) => apply_op(q.tag(), op, int::<u8>),
            (Field::Level, op) => apply_op(q.level(), op, int::<u8>),
            (Field::Name, op) => apply_op(q.name(), op, |v| match v {
                Val::Str(s) => s.clone(),
                Val::Int(_) => unreachable!(),
            }),
        };
    }
    if let Some((f, asc)) = spec.order {
        q = match (f, asc) {
            (Field::Id, true) => q.id().asc(),
            (Field::Id, false) => q.id().desc(),
            (Field::Score, true) => q.score().asc(),
            (Field::Score, false) => q.score().desc(),
            (Field::Name, true) => q.name().asc(),
            (Field::Name, false) => q.name().desc(),
            (Field::Tag, true) => q.tag().asc(),
            (Field::Tag, false) => q.tag().desc(),
            (Field::Level, true) => q.level().asc(),
            (Field::Level, false) => q.level().desc(),
        };
    }
    if spec.skip > 0 {
        q = q.skip(spec.skip);
    }
    if let Some(n) = spec.limit {
        q = q.limit(n);
    }
    q
}

fn check_query(got: Vec<Item>, model: &BTreeMap<u16, Item>, spec: &QuerySpec) {
    let mut matches: Vec<Item> = model
        .values()
        .filter(|i| spec.conds.iter().all(|c| c.holds(i)))
        .cloned()
        .collect();
    match spec.order {
        Some((f, asc)) => {
            // By the field, ties by key; descending is the exact reverse.
            matches.sort_by(|a, b| {
                let o = a.val(f).cmp(&b.val(f)).then(a.id.cmp(&b.id));
                if asc { o } else { o.reverse() }
            });
            let page: Vec<Item> = matches
                .into_iter()
                .skip(spec.skip)
                .take(spec.limit.unwrap_or(usize::MAX))
                .collect();
            assert_eq!(got, page, "{spec:?}");
        }
        None => {
            let want = matches
                .len()
                .saturating_sub(spec.skip)
                .min(spec.limit.unwrap_or(usize::MAX));
            assert_eq!(got.len(), want, "{spec:?}");
            for g in &got {
                assert!(matches.contains(g), "{g:?} does not match {spec:?}");
            }
            let mut ids: Vec<u16> = got.iter().map(|i| i.id).collect();
            ids.dedup();
            assert_eq!(ids.len(), got.len(), "no duplicates");
        }
    }
}

/// What a save does to the model: refused if another item holds the tag.
fn model_save(model: &mut BTreeMap<u16, Item>, item: &Item) -> bool {
    if model.values().any(|o| o.tag == item.tag && o.id != item.id) {
        return false;
    }
    model.insert(item.id, item.clone());
    true
}

fn run(steps: Vec<Step>) {
    let disk = MemBlock::new(512, 16 * 1024);
    let mut db = open(&disk);
    let mut model: BTreeMap<u16, Item> = BTreeMap::new();
    for step in steps {
        match step {
            Step::Save(item) => {
                let ok = model_save(&mut model, &item);
                match db.save(&item) {
                    Ok(k) => assert!(ok && k == item.id, "saved {item:?}"),
                    Err(Error::Unique { field: "tag", .. }) => assert!(!ok, "{item:?}"),
                    Err(e) => panic!("save {item:?}: {e}"),
                }
            }
            Step::Delete(id) => {
                assert_eq!(db.delete::<Item>(id).unwrap(), model.remove(&id).is_some())
            }
            Step::Get(id) => assert_eq!(db.get::<Item>(id).unwrap(), model.get(&id).cloned()),
            Step::Query(spec) => {
                let got = build(db.query::<Item>(), &spec).fetch().unwrap();
                check_query(got, &model, &spec);
            }
            Step::Tx(saves, deletes, outside, commit) => {
                let mut shadow = model.clone();
                let mut tx = db.begin().unwrap();
                let mut refused = false;
                for item in &saves {
                    let ok = model_save(&mut shadow, item);
                    match tx.save(item) {
                        Ok(_) => assert!(ok),
                        Err(Error::Unique { .. }) => {
                            assert!(!ok);
                            refused = true;
                            break;
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                if !refused {
                    for id in &deletes {
                        assert_eq!(tx.delete::<Item>(*id).unwrap(), shadow.remove(id).is_some());
                    }
                    let inside = tx.query::<Item>().fetch().unwrap();
                    assert_eq!(inside, shadow.values().cloned().collect::<Vec<_>>());
                }
                // Readers outside the open transaction see every commit
                // before it and nothing of it.
                check_query(
                    build(db.query::<Item>(), &outside).fetch().unwrap(),
                    &model,
                    &outside,
                );
                for id in saves.iter().map(|i| i.id).chain(deletes.iter().copied()) {
                    assert_eq!(db.get::<Item>(id).unwrap(), model.get(&id).cloned());
                }
                if commit && !refused {
                    tx.commit().unwrap();
                    model = shadow;
                } else {
                    tx.abort().unwrap();
                }
            }
            Step::Reopen => {
                drop(db);
                db = open(&disk);
            }
        }
    }
    let all = db.query::<Item>().fetch().unwrap();
    assert_eq!(all, model.values().cloned().collect::<Vec<_>>());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn store_behaves_like_the_model(steps in proptest::collection::vec(step(), 1..60)) {
        run(steps);
    }
}
