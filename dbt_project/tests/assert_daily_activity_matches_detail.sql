-- The daily mart counts every resolved mention and every attributed quotation exactly once.
with totals as (
    select
        (select coalesce(sum(mentions), 0) from {{ ref('activity_per_actor_daily') }}) as mart_mentions,
        (select count(*) from {{ ref('stg_entity_mentions') }}) as detail_mentions,
        (select coalesce(sum(quotes), 0) from {{ ref('activity_per_actor_daily') }}) as mart_quotes,
        (select count(*) from {{ ref('stg_quotes') }} where speaker_id is not null) as detail_quotes
)
select * from totals
where mart_mentions != detail_mentions or mart_quotes != detail_quotes
