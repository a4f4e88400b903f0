-- Who is mentioned with whom: one row per pair of actors named in the same article, with
-- how many articles and sentences name both. Pairs in one sentence are the tighter link
-- ("Putin told Trump..."). Each pair appears once, actor_a's name sorting first (the id
-- breaks a tie between two actors of the same name).
--
-- The pairs are found once per article, the night it arrives (int_*_actor_pairs, by the NLP
-- stage's raw actor ids); here they are mapped through tonight's actor resolution, so that
-- a bare "Obama" merged into "Barack Obama" counts for him in old articles too, and counted
-- by actor ids (names are joined to the counts, not carried through them). A raw pair is
-- one pair of actors, except in an article (sentence) where two raw ids resolve to the
-- same actor: there the same resolved pair can come from two raw pairs, so those few
-- articles (sentences) are counted apart, de-duplicated.
with resolved as (
    select raw_actor_id, actor_id from {{ ref('actor_resolution') }}
),

article_pairs as not materialized (  -- referenced twice: recomputed, not buffered (43M rows at 100k)
    select p.article_id, x.actor_id as x_id, y.actor_id as y_id
    from {{ ref('int_article_actor_pairs') }} as p
    -- left joins (every raw id is resolved, so no row is lost): with inner joins DuckDB 1.5 crossed the
    -- two lookups first on x_id <> y_id (13k x 13k rows at 2k articles) before meeting the pairs
    left join resolved as x on x.raw_actor_id = p.raw_actor_a_id
    left join resolved as y on y.raw_actor_id = p.raw_actor_b_id
),

merged_articles as (  -- articles where two raw ids became one actor (from mentions, not pairs)
    select distinct article_id from {{ ref('stg_entity_mentions') }}
    group by article_id, actor_id having count(distinct raw_actor_id) > 1
),

article_counts as (
    select lo, hi, sum(articles) as articles, min(first_seen) as first_seen, max(last_seen) as last_seen
    from (
        select least(x_id, y_id) as lo, greatest(x_id, y_id) as hi, count(*) as articles,
               min(a.seen_at) as first_seen, max(a.seen_at) as last_seen
        from article_pairs as p
        join {{ ref('stg_articles') }} as a using (article_id)
        where x_id <> y_id and article_id not in (select article_id from merged_articles)
        group by all
        union all
        select lo, hi, count(*), min(a.seen_at), max(a.seen_at)
        from (
            select distinct article_id, least(x_id, y_id) as lo, greatest(x_id, y_id) as hi
            from article_pairs
            where x_id <> y_id and article_id in (select article_id from merged_articles)
        )
        join {{ ref('stg_articles') }} as a using (article_id)
        group by all
    )
    group by all
),

sentence_pairs as not materialized (
    select p.article_id, p.sentence_id, x.actor_id as x_id, y.actor_id as y_id
    from {{ ref('int_sentence_actor_pairs') }} as p
    -- left joins (every raw id is resolved, so no row is lost): with inner joins DuckDB 1.5 crossed the
    -- two lookups first on x_id <> y_id (13k x 13k rows at 2k articles) before meeting the pairs
    left join resolved as x on x.raw_actor_id = p.raw_actor_a_id
    left join resolved as y on y.raw_actor_id = p.raw_actor_b_id
),

merged_sentences as (
    select distinct article_id, sentence_id from {{ ref('stg_entity_mentions') }}
    group by article_id, sentence_id, actor_id having count(distinct raw_actor_id) > 1
),

sentence_counts as (
    select lo, hi, sum(sentences) as sentences
    from (
        select least(x_id, y_id) as lo, greatest(x_id, y_id) as hi, count(*) as sentences
        from sentence_pairs as p
        where x_id <> y_id and p.article_id in (select article_id from {{ ref('stg_articles') }}) and not exists (
            select 1 from merged_sentences as d where d.article_id = p.article_id and d.sentence_id = p.sentence_id)
        group by all
        union all
        select lo, hi, count(*)
        from (
            select distinct p.article_id, p.sentence_id, least(x_id, y_id) as lo, greatest(x_id, y_id) as hi
            from sentence_pairs as p
            join merged_sentences using (article_id, sentence_id)
            where x_id <> y_id and p.article_id in (select article_id from {{ ref('stg_articles') }})
        )
        group by all
    )
    group by all
),

named as (
    select c.*, l.name as lo_name, l.actor_type as lo_type, h.name as hi_name, h.actor_type as hi_type,
           (l.name, c.lo) < (h.name, c.hi) as lo_first
    from article_counts as c
    join {{ ref('actors') }} as l on l.actor_id = c.lo
    join {{ ref('actors') }} as h on h.actor_id = c.hi
)

select
    if(lo_first, n.lo, n.hi) as actor_a_id,
    if(lo_first, lo_name, hi_name) as actor_a,
    if(lo_first, lo_type, hi_type) as actor_a_type,
    if(lo_first, n.hi, n.lo) as actor_b_id,
    if(lo_first, hi_name, lo_name) as actor_b,
    if(lo_first, hi_type, lo_type) as actor_b_type,
    n.articles::bigint as articles,  -- sums of counts are HUGEINT in DuckDB: the contract says bigint
    coalesce(s.sentences, 0)::bigint as sentences,
    n.first_seen,
    n.last_seen
from named as n
left join sentence_counts as s using (lo, hi)
