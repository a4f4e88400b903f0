-- One row per live article, with the columns marts group and filter by. Articles a changed input
-- superseded (retired_at set) stay in the source table for the audit trail, out of every mart.
select
    article_id,
    batch_id,
    url,
    coalesce(outlet, '(unknown outlet)') as outlet,
    published_at,
    author,
    language,
    coalesce(published_at, ingested_at) as seen_at,
    title,
    n_chars,
    ingested_at
from {{ source('newsdesk', 'articles') }}
where retired_at is null
