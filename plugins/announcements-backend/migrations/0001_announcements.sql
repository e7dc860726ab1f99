CREATE TABLE announcements (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT
);
CREATE INDEX announcements_created_at ON announcements (created_at);
CREATE INDEX announcements_expires_at ON announcements (expires_at);
