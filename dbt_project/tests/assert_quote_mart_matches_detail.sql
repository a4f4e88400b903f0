-- Every attributed quotation is counted exactly once in quote_counts_per_source.
select 'quotes' as what, (select coalesce(sum(quotes), 0) from {{ ref('quote_counts_per_source') }}) as mart,
       (select count(*) from {{ ref('stg_quotes') }} where speaker_id is not null) as detail
where mart != detail
