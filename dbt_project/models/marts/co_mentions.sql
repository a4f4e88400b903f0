-- Who is mentioned with whom: one row per pair of actors named in the same article, with
-- how many articles and sentences name both. Pairs in one sentence are the tighter link
-- ("Putin told Trump..."). Each pair appears once, actor_a's name sorting first (the id
-- breaks a tie between two actors of the same name).
--
-- The pairs themselves are found once per article (int_*_actor_pairs, incremental, by the
-- NLP stage's raw ids); here they are mapped through tonight's actor resolution, so that a
-- bare "Obama" merged into "Barack Obama" counts as one actor in old articles too. Two raw
-- ids of one article that resolve to the same actor are one actor, not a pair.
with resolved as (
    select r.raw_actor_id, r.actor_id, t.name
    from {{ ref('actor_resolution') }} as r
    join {{ ref('actors') }} as t using (actor_id)
),

article_pairs as (
    select distinct
        p.article_id,
        if((x.name, x.actor_id) < (y.name, y.actor_id), x.actor_id, y.actor_id) as actor_a_id,
        if((x.name, x.actor_id) < (y.name, y.actor_id), y.actor_id, x.actor_id) as actor_b_id
    from {{ ref('int_article_actor_pairs') }} as p
    join resolved as x on x.raw_actor_id = p.raw_actor_a_id
    join resolved as y on y.raw_actor_id = p.raw_actor_b_id
    where x.actor_id <> y.actor_id
),

sentence_pairs as (
    select actor_a_id, actor_b_id, count(*) as sentences
    from (
        select distinct
            p.article_id,
            p.sentence_id,
            if((x.name, x.actor_id) < (y.name, y.actor_id), x.actor_id, y.actor_id) as actor_a_id,
            if((x.name, x.actor_id) < (y.name, y.actor_id), y.actor_id, x.actor_id) as actor_b_id
        from {{ ref('int_sentence_actor_pairs') }} as p
        join resolved as x on x.raw_actor_id = p.raw_actor_a_id
        join resolved as y on y.raw_actor_id = p.raw_actor_b_id
        where x.actor_id <> y.actor_id
    )
    group by all
)

select
    p.actor_a_id,
    ta.name as actor_a,
    ta.actor_type as actor_a_type,
    p.actor_b_id,
    tb.name as actor_b,
    tb.actor_type as actor_b_type,
    count(*) as articles,
    coalesce(any_value(s.sentences), 0) as sentences,
    min(a.seen_at) as first_seen,
    max(a.seen_at) as last_seen
from article_pairs as p
join {{ ref('stg_articles') }} as a using (article_id)
join {{ ref('actors') }} as ta on ta.actor_id = p.actor_a_id
join {{ ref('actors') }} as tb on tb.actor_id = p.actor_b_id
left join sentence_pairs as s using (actor_a_id, actor_b_id)
group by p.actor_a_id, ta.name, ta.actor_type, p.actor_b_id, tb.name, tb.actor_type
