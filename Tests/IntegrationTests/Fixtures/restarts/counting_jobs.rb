# A job that counts its starts and its completions per job id in Redis, for the graceful
# Sidekiq restart test: each id must end with exactly one of each. JOB_SECONDS: how long each
# runs (default 2).
require "sidekiq"

class CountingJob
  include Sidekiq::Worker

  def perform(id)
    Sidekiq.redis { |redis| redis.hincrby("mastiff-test:started", id, 1) }
    sleep Float(ENV.fetch("JOB_SECONDS", "2"))
    Sidekiq.redis { |redis| redis.hincrby("mastiff-test:done", id, 1) }
  end
end
