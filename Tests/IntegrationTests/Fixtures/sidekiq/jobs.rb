# Workers for the integration tests: a real Sidekiq (Debian's ruby-sidekiq) runs these, so the
# processes set, heartbeats, busy counts and work hashes in Redis are Sidekiq's own.
require "sidekiq"

# Sleeps, so that a test can see busy threads and a longest-running job.
class SlowJob
  include Sidekiq::Worker

  def perform(seconds)
    sleep(seconds.to_f)
  end
end

# Raises, so that stat:failed and the retry set move.
class FailingJob
  include Sidekiq::Worker
  sidekiq_options retry: 1

  def perform
    raise "failing on purpose"
  end
end
