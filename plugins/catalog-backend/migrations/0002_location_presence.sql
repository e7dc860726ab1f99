-- Whether a registered location's target must exist (`required`) or may be
-- missing (`optional`), so that a restart re-emits the Location as registered.
ALTER TABLE locations ADD COLUMN presence TEXT NOT NULL DEFAULT 'required';
