-- The mart's totals must equal the detail rows it summarises.
select 'mentions' as what, (select coalesce(sum(mentions), 0) from {{ ref('mentions_per_actor') }}) as mart,
       (select count(*) from {{ ref('stg_entity_mentions') }}) as detail
where mart != detail
