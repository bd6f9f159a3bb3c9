//! The records: households, problems and logbook entries, each a connection under the
//! key's rule, and one household by house code; a page's relations loaded once per page.

use super::*;

/// Queries over the records.
#[derive(Default)]
pub struct RecordsQuery;

#[Object]
impl RecordsQuery {
    /// Households the key may see, in house-code order; a Relay connection with keyset cursors.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn households(
        &self,
        ctx: &Context<'_>,
        filter: Option<HouseholdFilter>,
        #[graphql(
            desc = "Orderings; the house code breaks remaining ties. House-code order unless given."
        )]
        order_by: Option<Vec<HouseholdOrder>>,
        #[graphql(desc = "Only households changed at or after this time (RFC 3339).")]
        updated_since: Option<String>,
        #[graphql(desc = "Page size: 20 unless given, at most 100.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the last edge of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<Connection<String, Household, HouseholdTotals, EmptyFields>> {
        let p = principal(ctx)?;
        let first = page_size(ctx, first).gql()?;
        let asked: Vec<(service::households::OrderField, bool)> = order_by
            .unwrap_or_default()
            .iter()
            .map(|o| {
                let f = match o.field {
                    HouseholdOrderField::HouseCode => service::households::OrderField::HouseCode,
                    HouseholdOrderField::Province => service::households::OrderField::Province,
                    HouseholdOrderField::District => service::households::OrderField::District,
                    HouseholdOrderField::Subdistrict => {
                        service::households::OrderField::Subdistrict
                    }
                    HouseholdOrderField::Village => service::households::OrderField::Village,
                };
                (f, o.direction == OrderDirection::Desc)
            })
            .collect();
        let order = service::households::ordering(&asked);
        let after = after
            .as_deref()
            .map(|c| decode_cursor(c, order.len()))
            .transpose()
            .gql()?;
        let filter = filter.unwrap_or_default();
        let mut condition = visible_households(&filter, p).gql()?;
        let mut kept = kept_count(&filter).gql()?;
        if let Some(t) = parse_since(&updated_since).gql()? {
            condition = condition.add(entity::household::Column::UpdatedAt.gte(t));
            kept = None;
        }
        let (rows, has_next) =
            service::households::page(db(ctx)?, condition.clone(), &order, after.as_deref(), first)
                .await
                .gql()?;
        prefetch(ctx, PAGE_ROOTS, &rows).await?;
        let mut conn = Connection::with_additional_fields(
            after.is_some(),
            has_next,
            HouseholdTotals { condition, kept },
        );
        conn.edges.extend(rows.into_iter().map(|h| {
            let values: Vec<String> = order.iter().map(|(f, _)| f.value(&h)).collect();
            Edge::new(encode_cursor(&values), Household(h))
        }));
        Ok(conn)
    }

    /// One household by house code; `null` with NOT_FOUND when the key may not see it.
    async fn household(&self, ctx: &Context<'_>, house_code: String) -> Result<Option<Household>> {
        let p = principal(ctx)?;
        let code = domain::HouseCode::parse_str(&house_code)
            .map_err(|e| ApiError::bad_input("houseCode", e.message_en()).extend())?;
        // the relations are asked for beside the household, not after it: one round trip
        // of waiting instead of two. Each loader applies the key's access itself, so a
        // household the key may not see yields none, and its answer is NOT_FOUND anyway.
        // Its members, when asked for, come in the household's own statement.
        let houses = [code.clone()];
        let with_members = asks_members(ctx, &[&[]]);
        let (found, of_problems) = futures::try_join!(
            async {
                let db = db(ctx)?;
                if !with_members {
                    return service::households::get(db, p, code.as_str()).await.gql();
                }
                let found = service::households::get_with_members(db, p, code.as_str())
                    .await
                    .gql()?;
                Ok(match found {
                    Some((h, members)) => {
                        loaders::of(ctx)?
                            .members
                            .feed_one(h.house_code.clone(), members)
                            .await;
                        Some(h)
                    }
                    None => None,
                })
            },
            prefetch_by_house(ctx, &[&[]], &houses, !with_members)
        )?;
        match found {
            Some(h) => {
                prefetch_by_row(ctx, &[&[]], std::slice::from_ref(&h), of_problems).await?;
                Ok(Some(Household(h)))
            }
            None => Err(ApiError::NotFound(format!("household {code}")).extend()),
        }
    }

    /// Problems the key may see, in id order; a Relay connection.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn problems(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProblemFilter>,
        #[graphql(desc = "Only problems changed at or after this time (RFC 3339).")]
        updated_since: Option<String>,
        #[graphql(desc = "Page size: 20 unless given, at most 100.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the last edge of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<Connection<String, types::Problem, ProblemTotals, EmptyFields>> {
        let p = principal(ctx)?;
        let first = page_size(ctx, first).gql()?;
        let after = after
            .as_deref()
            .map(|c| decode_id_cursor("p", c))
            .transpose()
            .gql()?;
        let mut condition = Condition::all()
            .add(p.problems())
            .add(problem_condition(&filter.unwrap_or_default()).gql()?);
        if let Some(t) = parse_since(&updated_since).gql()? {
            condition = condition.add(entity::problem::Column::UpdatedAt.gte(t));
        }
        let (rows, has_next) = service::problems::page(db(ctx)?, condition.clone(), after, first)
            .await
            .gql()?;
        let mut conn = Connection::with_additional_fields(
            after.is_some(),
            has_next,
            ProblemTotals { condition },
        );
        conn.edges.extend(
            rows.into_iter()
                .map(|m| Edge::new(encode_id_cursor("p", m.id), types::Problem(m))),
        );
        Ok(conn)
    }

    /// Logbook entries the key may see, in id order; a Relay connection.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn logbook_entries(
        &self,
        ctx: &Context<'_>,
        filter: Option<LogbookFilter>,
        #[graphql(desc = "Only entries changed at or after this time (RFC 3339).")]
        updated_since: Option<String>,
        #[graphql(desc = "Page size: 20 unless given, at most 100.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the last edge of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<Connection<String, types::LogbookEntry, LogbookTotals, EmptyFields>> {
        let p = principal(ctx)?;
        let first = page_size(ctx, first).gql()?;
        let after = after
            .as_deref()
            .map(|c| decode_id_cursor("e", c))
            .transpose()
            .gql()?;
        let f = filter.unwrap_or_default();
        let problems = f
            .problem
            .as_ref()
            .map(problem_condition)
            .transpose()
            .gql()?;
        let filter = service::logbook::matching(
            parse_day("dateFrom", &f.date_from).gql()?,
            parse_day("dateTo", &f.date_to).gql()?,
            f.agency.as_deref(),
            f.status.map(|s| s.key()),
            problems,
        );
        let mut condition = Condition::all().add(p.entries()).add(filter);
        if let Some(t) = parse_since(&updated_since).gql()? {
            condition = condition.add(entity::logbook_entry::Column::UpdatedAt.gte(t));
        }
        let (rows, has_next) = service::logbook::page(db(ctx)?, condition.clone(), after, first)
            .await
            .gql()?;
        let mut conn = Connection::with_additional_fields(
            after.is_some(),
            has_next,
            LogbookTotals { condition },
        );
        conn.edges.extend(
            rows.into_iter().map(|(e, code)| {
                Edge::new(encode_id_cursor("e", e.id), types::LogbookEntry(e, code))
            }),
        );
        Ok(conn)
    }

    /// The change feed: every record the key may see, one event per record at its latest
    /// change, in the order changes committed — for keeping a mirror in step. Start with no
    /// `after`, then resume from the last `endCursor`; an event of kind `REMOVED` (an agency
    /// that lost a dimension) says the record left the key's sight: delete it from the mirror.
    #[graphql(complexity = "first.unwrap_or(100).max(0) as usize * child_complexity")]
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `endCursor` of the previous page; from the start when none.")]
        after: Option<String>,
        #[graphql(desc = "Page size: 100 unless given, at most ten times --max-page.")]
        first: Option<i32>,
        #[graphql(desc = "Only these kinds of record (all when none).")] entities: Option<
            Vec<service::changes::Entity>,
        >,
    ) -> Result<Connection<String, types::Change, EmptyFields, EmptyFields>> {
        let p = principal(ctx)?;
        let first = feed_page_size(ctx, first).gql()?;
        let after = after
            .as_deref()
            .map(service::changes::Position::decode)
            .transpose()
            .gql()?;
        let page = service::changes::page(
            db(ctx)?,
            p,
            after.as_ref(),
            first,
            &entities.unwrap_or_default(),
        )
        .await
        .gql()?;
        let mut conn = Connection::new(after.is_some(), page.has_next);
        let codes = page.agency_codes;
        conn.edges.extend(page.changes.into_iter().map(|c| {
            let code = match &c.record {
                Some(service::changes::Record::LogbookEntry(e)) => {
                    e.agency_id.and_then(|id| codes.get(&id).cloned())
                }
                _ => None,
            };
            Edge::new(c.position.encode(), types::Change(c, code))
        }));
        Ok(conn)
    }
}

/// Where a page's households are in its selection: `nodes`, or `edges { node }`.
const PAGE_ROOTS: &[&[&str]] = &[&["nodes"], &["edges", "node"]];

/// Loads, once for all `rows`, every relation the query asks of them (under one of `roots`
/// of the current field's selection), into the request's loader caches: a page costs a fixed
/// number of statements whatever its size, and one household's relations are fetched at once
/// instead of after the loaders' batching delay. Relations that do not depend on each other
/// (members, analyses, problems with their entries, areas) are fetched concurrently.
async fn prefetch(
    ctx: &Context<'_>,
    roots: &[&[&str]],
    rows: &[entity::household::Model],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let houses: Vec<HouseCode> = rows.iter().map(|h| h.house_code.clone()).collect();
    let (of_problems, ()) = futures::try_join!(
        prefetch_by_house(ctx, roots, &houses, true),
        prefetch_areas(ctx, roots, rows)
    )?;
    prefetch_cohorts(ctx, roots, rows, of_problems).await
}

/// Whether the selection asks for `path` under one of `roots` of the current field.
fn selection_asks(ctx: &Context<'_>, roots: &[&[&str]], path: &[&str]) -> bool {
    roots.iter().any(|root| {
        let mut a = ctx.look_ahead();
        for f in root.iter().chain(path) {
            a = a.field(f);
        }
        a.exists()
    })
}

/// Whether the selection asks for the households' members, directly or as a problem's.
fn asks_members(ctx: &Context<'_>, roots: &[&[&str]]) -> bool {
    selection_asks(ctx, roots, &["members"]) || selection_asks(ctx, roots, &["problems", "member"])
}

/// The part of [`prefetch`] that needs only the house codes (members unless `with_members`
/// is false, analyses, problems with their entries), concurrently; the cohorts of the problems
/// it loaded.
async fn prefetch_by_house(
    ctx: &Context<'_>,
    roots: &[&[&str]],
    houses: &[HouseCode],
    with_members: bool,
) -> Result<Vec<i32>> {
    let asks = |path: &[&str]| selection_asks(ctx, roots, path);
    let l = loaders::of(ctx)?;
    let houses = houses.to_vec();
    let members = async {
        if with_members && asks_members(ctx, roots) {
            loaders::prime(&l.members, houses.clone()).await?;
        }
        Ok::<_, async_graphql::Error>(())
    };
    let analyses = async {
        if asks(&["analysis"]) {
            loaders::prime(&l.analyses, houses.clone()).await?;
        }
        Ok::<_, async_graphql::Error>(())
    };
    let problems = async {
        let mut cohorts: Vec<i32> = Vec::new();
        if asks(&["problems"]) {
            let ids = loaders::prime_with(&l.problems, houses.clone(), |problems| {
                let all = problems.values().flatten();
                cohorts.extend(all.clone().map(|p| p.cohort_id));
                all.map(|p| p.id).collect::<Vec<i32>>()
            })
            .await?;
            if asks(&["problems", "logbook"]) {
                loaders::prime(&l.entries, ids).await?;
            }
        }
        Ok::<_, async_graphql::Error>(cohorts)
    };
    let ((), (), of_problems) = futures::try_join!(members, analyses, problems)?;
    Ok(of_problems)
}

/// The part of [`prefetch`] that needs the household rows: their areas, then the cohorts of
/// the rows and of `of_problems` (as [`prefetch_by_house`] gave them).
async fn prefetch_by_row(
    ctx: &Context<'_>,
    roots: &[&[&str]],
    rows: &[entity::household::Model],
    of_problems: Vec<i32>,
) -> Result<()> {
    prefetch_areas(ctx, roots, rows).await?;
    prefetch_cohorts(ctx, roots, rows, of_problems).await
}

/// The rows' areas the selection asks for.
async fn prefetch_areas(
    ctx: &Context<'_>,
    roots: &[&[&str]],
    rows: &[entity::household::Model],
) -> Result<()> {
    let asks = |path: &[&str]| selection_asks(ctx, roots, path);
    let l = loaders::of(ctx)?;
    let mut areas: Vec<AreaCode> = Vec::new();
    for (field, pick) in [
        (
            "village",
            (|h: &entity::household::Model| h.village_code.clone().into())
                as fn(&entity::household::Model) -> AreaCode,
        ),
        ("subdistrict", |h| h.subdistrict_code.clone()),
        ("district", |h| h.district_code.clone()),
        ("province", |h| h.province_code.clone()),
    ] {
        if asks(&[field]) {
            areas.extend(rows.iter().map(pick));
        }
    }
    areas.sort();
    areas.dedup();
    loaders::prime(&l.areas, areas).await?;
    Ok(())
}

/// The cohorts of the rows and of `of_problems`, when the selection asks for them.
async fn prefetch_cohorts(
    ctx: &Context<'_>,
    roots: &[&[&str]],
    rows: &[entity::household::Model],
    of_problems: Vec<i32>,
) -> Result<()> {
    let asks = |path: &[&str]| selection_asks(ctx, roots, path);
    let l = loaders::of(ctx)?;
    if asks(&["cohort"]) || asks(&["problems", "cohort"]) {
        let mut cohorts: Vec<i32> = rows.iter().map(|h| h.cohort_id).collect();
        cohorts.extend(of_problems);
        cohorts.sort_unstable();
        cohorts.dedup();
        loaders::prime(&l.cohorts, cohorts).await?;
    }
    Ok(())
}
